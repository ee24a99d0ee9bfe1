"""Means without axis: every spelling gets `axis=-1`; formatting and comments stay."""
import keras
import tensorflow as tf
from keras import ops
from tf_keras import backend as K

WEIGHT = 0.5


def mse_tf(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred))


def mae_tf_math(y_true, y_pred):
    # a comment before the return stays
    return tf.math.reduce_mean(tf.abs(y_true - y_pred))  # trailing comment stays


def mse_backend(y_true, y_pred):
    return K.mean(K.square(y_pred - y_true))


def mse_ops(y_true, y_pred):
    return keras.ops.mean(ops.square(y_true - y_pred))


def mae_numpy(y_true, y_pred):
    return tf.experimental.numpy.mean(tf.abs(y_true - y_pred))


def mse_keepdims(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred), keepdims=False) * 1.0


def mae_axis_none(y_true, y_pred):
    return tf.reduce_mean(tf.abs(y_true - y_pred), axis=None)


def mae_positional_none(y_true, y_pred):
    return tf.reduce_mean(tf.abs(y_true - y_pred), None)


def weighted_multiline(y_true, y_pred):
    return WEIGHT * tf.reduce_mean(
        tf.square(y_true - y_pred),  # the error
    )


def multiline_no_trailing_comma(y_true, y_pred):
    err = y_true - y_pred
    return tf.reduce_mean(
        tf.abs(err)
    ) - 0.1 * tf.reduce_mean(tf.square(err))


def rmse(y_true, y_pred):
    return tf.sqrt(tf.reduce_mean(tf.square(y_true - y_pred)))


def first_column_mse(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true[:, 0] - y_pred[:, 0]))


def flattened_mse(y_true, y_pred):
    return K.mean(K.square(K.flatten(y_true) - K.flatten(y_pred)))


def mean_of_row_means(y_true, y_pred):
    return tf.reduce_mean(tf.reduce_mean(tf.square(y_true - y_pred), axis=-1))


def suppressed(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred))  # noqa: LL101


def per_sample(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
