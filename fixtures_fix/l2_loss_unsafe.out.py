"""tf.nn.l2_loss in a loss: rewritten as a per-sample half sum of squares with --unsafe-fixes."""
import numpy as np
import tensorflow as tf
from tensorflow.keras import backend as K

DECAY = 1e-3


def half_sse(y_true, y_pred):
    # one number for the batch: sum((y_true - y_pred) ** 2) / 2
    return 0.5 * tf.reduce_sum(tf.square(y_true - y_pred), axis=tf.range(1, tf.rank(y_true - y_pred)))


def mse_with_activity_penalty(y_true, y_pred):
    mse = tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
    return mse + DECAY * 0.5 * tf.reduce_sum(tf.square(y_pred), axis=tf.range(1, tf.rank(y_pred)))


def flat_half_sse(y_true, y_pred):
    err = K.batch_flatten(y_true - y_pred)
    return 0.5 * tf.reduce_sum(tf.square(err), axis=-1) / 10.0


def root_half_sse(y_true, y_pred):
    return (0.5 * tf.reduce_sum(tf.square(y_true - y_pred), axis=tf.range(1, tf.rank(y_true - y_pred)))) ** 0.5


def weight_decayed_mse(model):
    # l2_loss of the weights: no batch axis, not a finding, left alone
    def loss(y_true, y_pred):
        penalty = tf.add_n([tf.nn.l2_loss(w) for w in model.trainable_weights])
        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1) + DECAY * penalty

    return loss


def suppressed(y_true, y_pred):
    return tf.nn.l2_loss(y_true - y_pred)  # noqa: LL104


def build_model():
    inputs = tf.keras.Input(shape=(16,))
    hidden = tf.keras.layers.Dense(32, activation="relu")(inputs)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(4)(hidden))


if __name__ == "__main__":
    x = np.random.rand(256, 16).astype("float32")
    y = np.random.rand(256, 4).astype("float32")
    model = build_model()
    for loss in (half_sse, mse_with_activity_penalty, flat_half_sse, root_half_sse, weight_decayed_mse(model)):
        model.compile(optimizer="adam", loss=loss)
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
