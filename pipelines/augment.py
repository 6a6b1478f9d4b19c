"""In-graph augmentations that make training audio sound like many rooms, microphones and channels.

A model trained on clean studio prompts meets reverberant rooms, cheap microphones and telephone
bandwidth in use. Each op here is stateless, driven by an explicit seed `[2]`, and applied to the
speech (and, for channel effects, the noise) *before* mixing, so `mix_at_snr` still sets the SNR
exactly and the training target is the speech as the microphone hears it (reverberant speech stays
the target: the model removes noise, not the room).
"""

from __future__ import annotations

import math

import tensorflow as tf

from keras_denoiser.core.config import MixConfig
from keras_denoiser.pipelines.mixing import uniform

RT60_SECONDS = (0.15, 0.8)
DIRECT_TO_REVERB_DB = (-3.0, 12.0)
RIR_MAX_SECONDS = 0.5
TILT_DB = 6.0  # spectral tilt from 0 Hz to Nyquist, either way
PEAK_DB = 6.0  # one peak or notch of one octave, anywhere from 150 Hz to 6 kHz
PEAK_HZ = (150.0, 6000.0)
BAND_LIMITS_HZ = (4000.0, 7000.0)  # telephone and wideband codec edges; chosen with the no-limit case
BAND_EDGE_HZ = 200.0
SECOND_NOISE_DB = (-10.0, 0.0)  # the second noise's power relative to the first
# Stationary noise slopes in dB per octave: brown (-6), pink (-3), white (0) and blue (+3), and between.
STATIONARY_SLOPE_DB_PER_OCTAVE = (-6.0, 3.0)
# A corpus noise made another: played faster or slower (log-uniform; pitch and pace move together) and
# re-coloured by an EQ twice as steep as a microphone's. The noise corpora here hold minutes, not hours.
NOISE_SPEED_FACTOR = (0.5, 2.0)
NOISE_EQ_SCALE = 2.0
# Generated tonal events (alarms, beeps, chimes, interface sounds): the corpora hold about 100 s of them,
# and the models trail the peers most on such sounds at low SNR. A track repeats a period in which a
# tone sounds for a share of it; each period may be silent, sweep, or take another pitch.
EVENT_PERIOD_SECONDS = (0.1, 1.0)
EVENT_DUTY = (0.15, 0.8)  # the share of a period the tone sounds: there is always a gap
EVENT_SILENT_PERIODS = 0.3  # the chance that a period (after the first) stays silent
EVENT_PITCH_HZ = (300.0, 3000.0)  # the fundamental, log-uniform
EVENT_PITCH_SPREAD_OCTAVES = 1.0  # periods may each take a pitch up to this far from the fundamental
EVENT_SWEEP_OCTAVES_PER_SECOND = 4.0  # a sweep within each tone, either way (half the tracks do not sweep)
EVENT_HARMONICS = 4  # partials k = 1..4 at amplitudes r^(k-1), r drawn below
EVENT_HARMONIC_RATIO = (0.05, 0.8)
EVENT_DECAY_PER_SECOND = (0.0, 20.0)  # a chime's exponential decay within the tone; 0: a held beep
EVENT_ATTACK_SECONDS = (0.001, 0.01)


def _chance(seed: tf.Tensor, probability: float) -> tf.Tensor:
    """A boolean scalar that is True with `probability`."""
    return tf.random.stateless_uniform([], seed) < probability


def _sometimes(value: tf.Tensor, probability: float, seeds: list[tf.Tensor], change) -> tf.Tensor:
    """`change(value, seeds[1])` with `probability` (drawn with `seeds[0]`), else `value`; off at 0."""
    if probability <= 0:
        return value
    return tf.cond(_chance(seeds[0], probability), lambda: change(value, seeds[1]), lambda: value)


def _folded_seeds(seed: tf.Tensor, salt: int) -> list[tf.Tensor]:
    """Two seeds of their own for an augmentation added later, so the draws of the others stay as they were."""
    return tf.unstack(tf.random.experimental.stateless_split(tf.random.experimental.stateless_fold_in(seed, salt), 2))


def synthetic_rir(seed: tf.Tensor, rate: int) -> tf.Tensor:
    """A room impulse response: a unit direct path and an exponentially decaying noise tail.

    RT60 and the direct-to-reverberant ratio are drawn from RT60_SECONDS and DIRECT_TO_REVERB_DB.
    """
    rt60_seed, drr_seed, tail_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    length = int(RIR_MAX_SECONDS * rate)
    rt60 = uniform(rt60_seed, *RT60_SECONDS)
    time = tf.range(1, length, dtype=tf.float32) / rate
    tail = tf.random.stateless_normal([length - 1], tail_seed) * tf.exp(-3.0 * math.log(10.0) * time / rt60)
    drr = uniform(drr_seed, *DIRECT_TO_REVERB_DB)
    tail *= tf.sqrt(10.0 ** (-drr / 10.0) / tf.reduce_sum(tf.square(tail)))
    return tf.concat([[1.0], tail], axis=0)


def reverberate(wave: tf.Tensor, rir: tf.Tensor) -> tf.Tensor:
    """`wave` convolved with `rir` (FFT), cut to `wave`'s length: what a microphone in the room records."""
    length = tf.shape(wave)[0]
    fft_length = 2 ** tf.cast(tf.math.ceil(tf.math.log(tf.cast(length + tf.shape(rir)[0], tf.float32)) / math.log(2.0)), tf.int32)
    spectrum = tf.signal.rfft(wave, [fft_length]) * tf.signal.rfft(rir, [fft_length])
    return tf.signal.irfft(spectrum, [fft_length])[:length]


def channel_gains(seed: tf.Tensor, num_bins: tf.Tensor, rate: int, scale: float = 1.0) -> tf.Tensor:
    """Linear gains `[num_bins]` over 0..rate/2 Hz: a random tilt, one random peak or notch, and a
    band limit at one of BAND_LIMITS_HZ (or none), each with equal chance. `scale` multiplies the
    tilt's and the peak's dB ranges."""
    tilt_seed, peak_hz_seed, peak_db_seed, band_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    hz = tf.linspace(0.0, rate / 2.0, num_bins)
    position = hz / (rate / 2.0)
    gain_db = uniform(tilt_seed, -scale * TILT_DB, scale * TILT_DB) * (position - 0.5)
    centre = tf.exp(uniform(peak_hz_seed, math.log(PEAK_HZ[0]), math.log(PEAK_HZ[1])))
    octaves = tf.math.log(tf.maximum(hz, 1.0) / centre) / math.log(2.0)
    gain_db += uniform(peak_db_seed, -scale * PEAK_DB, scale * PEAK_DB) * tf.exp(-2.0 * tf.square(octaves))
    limits = tf.constant([*BAND_LIMITS_HZ, rate], tf.float32)  # `rate` is above every bin: no limit
    limit = tf.gather(limits, tf.random.stateless_uniform([], band_seed, 0, len(limits), dtype=tf.int32))
    band = tf.clip_by_value((limit - hz) / BAND_EDGE_HZ, 0.0, 1.0)
    return 10.0 ** (gain_db / 20.0) * band


def filter_channel(wave: tf.Tensor, gains: tf.Tensor) -> tf.Tensor:
    """`wave` through a zero-phase filter with the given rfft-bin gains (circular; fine for crops)."""
    length = tf.shape(wave)[0]
    return tf.signal.irfft(tf.signal.rfft(wave) * tf.cast(gains, tf.complex64), [length])


def add_second_noise(noise: tf.Tensor, other: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """`noise` plus `other` at a power SECOND_NOISE_DB below (or at) `noise`'s: two sources at once."""
    power = tf.reduce_mean(tf.square(noise))
    other_power = tf.reduce_mean(tf.square(other))
    relative_db = uniform(seed, *SECOND_NOISE_DB)
    return noise + other * tf.sqrt(tf.math.divide_no_nan(power * 10.0 ** (relative_db / 10.0), other_power))


def stationary_noise(length: int, seed: tf.Tensor, rate: int) -> tf.Tensor:
    """`length` samples of Gaussian noise whose spectrum falls or rises by a random slope in
    STATIONARY_SLOPE_DB_PER_OCTAVE (white at 0 dB), scaled to unit power; `mix_at_snr` sets its level."""
    slope_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    white = tf.random.stateless_normal([length], noise_seed)
    hz = tf.linspace(0.0, rate / 2.0, length // 2 + 1)
    octaves = tf.math.log(tf.maximum(hz, 20.0) / 1000.0) / math.log(2.0)  # 0 at 1 kHz; flat below 20 Hz
    gains = 10.0 ** (uniform(slope_seed, *STATIONARY_SLOPE_DB_PER_OCTAVE) * octaves / 20.0)
    shaped = filter_channel(white, gains)
    return shaped * tf.math.rsqrt(tf.reduce_mean(tf.square(shaped)) + 1e-12)


def tonal_events(length: tf.Tensor | int, seed: tf.Tensor, rate: int) -> tf.Tensor:
    """`length` samples of generated beeps, alarms and chimes (see EVENT_*), scaled to unit power.

    Each period starts a tone unless it is drawn silent (the first always sounds); inside a tone the
    phase is the integral of an exponential sweep, and partials that would pass 0.95 x Nyquist are
    left out, so none aliases.
    """
    draws = tf.unstack(tf.random.experimental.stateless_split(seed, 10))
    period = uniform(draws[0], *EVENT_PERIOD_SECONDS)
    sounding = period * uniform(draws[1], *EVENT_DUTY)
    periods = tf.cast(tf.math.ceil(tf.cast(length, tf.float32) / (EVENT_PERIOD_SECONDS[0] * rate)), tf.int32) + 1
    silent = tf.random.stateless_uniform([periods], draws[2]) < EVENT_SILENT_PERIODS
    silent = tf.concat([[False], silent[1:]], axis=0)
    fundamental = tf.exp(uniform(draws[3], math.log(EVENT_PITCH_HZ[0]), math.log(EVENT_PITCH_HZ[1])))
    spread = EVENT_PITCH_SPREAD_OCTAVES * tf.cast(_chance(draws[4], 0.5), tf.float32)
    pitches = fundamental * 2.0 ** (spread * tf.random.stateless_uniform([periods], draws[5], -1.0, 1.0))
    sweep = EVENT_SWEEP_OCTAVES_PER_SECOND * tf.cast(_chance(draws[6], 0.5), tf.float32) * uniform(draws[7], -1.0, 1.0)
    ratio = uniform(draws[8], *EVENT_HARMONIC_RATIO)
    decay_seed, attack_seed = tf.unstack(tf.random.experimental.stateless_split(draws[9], 2))
    decay = uniform(decay_seed, *EVENT_DECAY_PER_SECOND)
    attack = uniform(attack_seed, *EVENT_ATTACK_SECONDS)

    seconds = tf.range(length, dtype=tf.float32) / rate
    index = tf.cast(tf.floor(seconds / period), tf.int32)
    into = seconds - tf.cast(index, tf.float32) * period  # seconds into the tone
    pitch = tf.gather(pitches, index)
    octaves = sweep * into
    # The phase in cycles: the integral of pitch * 2^(sweep t), or pitch * t where it does not sweep.
    cycles = tf.where(
        tf.abs(sweep) > 1e-3,
        pitch * (2.0 ** octaves - 1.0) / (sweep * math.log(2.0) + 1e-12),
        pitch * into,
    )
    instantaneous = pitch * 2.0 ** octaves
    wave = tf.zeros([length])
    for k in range(1, EVENT_HARMONICS + 1):
        below_nyquist = tf.cast(k * instantaneous < 0.95 * rate / 2.0, tf.float32)
        wave += ratio ** (k - 1) * below_nyquist * tf.sin(2.0 * math.pi * k * cycles)
    ramp_in = tf.minimum(into / attack, 1.0)
    ramp_out = tf.clip_by_value((sounding - into) / attack, 0.0, 1.0)
    envelope = ramp_in * ramp_out * tf.exp(-decay * into) * (1.0 - tf.cast(tf.gather(silent, index), tf.float32))
    events = wave * envelope
    return events * tf.math.rsqrt(tf.reduce_mean(tf.square(events)) + 1e-12)


def change_speed(wave: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """`wave` played `factor` times as fast, at its own length: read by linear interpolation at steps of
    `factor`, back and forth through it where it runs out (a turn joins without a jump). Sped up, it is
    first low-passed below the new Nyquist frequency, so its top octave does not fold back as aliases."""
    length = tf.shape(wave)[0]
    bins = length // 2 + 1
    keep = tf.cast(tf.range(bins), tf.float32) < tf.cast(bins, tf.float32) / tf.maximum(factor, 1.0)
    wave = tf.cond(factor > 1.0, lambda: filter_channel(wave, tf.cast(keep, tf.float32)), lambda: wave)
    last = tf.cast(tf.maximum(length - 1, 1), tf.float32)
    position = tf.math.floormod(tf.range(length, dtype=tf.float32) * factor, 2.0 * last)
    position = tf.where(position > last, 2.0 * last - position, position)  # the way back
    below = tf.minimum(tf.cast(tf.floor(position), tf.int32), length - 1)
    above = tf.minimum(below + 1, length - 1)
    fraction = position - tf.floor(position)
    return tf.gather(wave, below) * (1.0 - fraction) + tf.gather(wave, above) * fraction


def vary_noise(noise: tf.Tensor, seed: tf.Tensor, rate: int) -> tf.Tensor:
    """A corpus noise as another one: its speed changed by a factor in NOISE_SPEED_FACTOR and its
    spectrum re-coloured (`channel_gains` at NOISE_EQ_SCALE): a new pitch, pace and colour."""
    speed_seed, colour_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    factor = tf.exp(uniform(speed_seed, math.log(NOISE_SPEED_FACTOR[0]), math.log(NOISE_SPEED_FACTOR[1])))
    faster = change_speed(noise, factor)
    return filter_channel(faster, channel_gains(colour_seed, tf.shape(faster)[0] // 2 + 1, rate, NOISE_EQ_SCALE))


def augment(
    speech: tf.Tensor, noise: tf.Tensor, other_noise: tf.Tensor, seed: tf.Tensor, rate: int, mix: MixConfig
) -> tuple[tf.Tensor, tf.Tensor]:
    """(speech, noise) after reverberation of the speech, a corpus noise varied in speed and colour,
    generated stationary noise or tonal events in place of the corpus noise, a second noise, and a
    channel filter on both, each applied with its probability in `mix`."""
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 6))
    speech = _sometimes(speech, mix.reverb_probability, seeds[0:2], lambda s, k: reverberate(s, synthetic_rir(k, rate)))
    noise = _sometimes(noise, mix.noise_variety_probability, _folded_seeds(seed, 2), lambda n, k: vary_noise(n, k, rate))
    noise = _sometimes(
        noise, mix.stationary_noise_probability, _folded_seeds(seed, 1), lambda n, k: stationary_noise(tf.shape(n)[0], k, rate)
    )
    noise = _sometimes(noise, mix.tonal_event_probability, _folded_seeds(seed, 3), lambda n, k: tonal_events(tf.shape(n)[0], k, rate))
    noise = _sometimes(noise, mix.second_noise_probability, seeds[2:4], lambda n, k: add_second_noise(n, other_noise, k))
    if mix.channel_probability > 0:

        def through_channel() -> tuple[tf.Tensor, tf.Tensor]:
            gains = channel_gains(seeds[5], tf.shape(speech)[0] // 2 + 1, rate)
            return filter_channel(speech, gains), filter_channel(noise, gains)

        speech, noise = tf.cond(_chance(seeds[4], mix.channel_probability), through_channel, lambda: (speech, noise))
    return speech, noise
