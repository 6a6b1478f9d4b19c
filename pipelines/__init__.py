"""tf.data input graphs: corpus readers, TFRecord preparation and the mixing/feature graph."""
