"""Real trainings, in process: the loop, the lecture's numbers at full size, replicate batches, Keras, another CPU target."""
