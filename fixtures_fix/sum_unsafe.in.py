"""Sums without axis: fixed only with --unsafe-fixes (the scale changes)."""
import tensorflow as tf
from keras import ops
from tf_keras import backend as K


def sse_tf(y_true, y_pred):
    return tf.reduce_sum(tf.square(y_true - y_pred))


def sae_backend(y_true, y_pred):
    return K.sum(K.abs(y_true - y_pred))


def sse_ops(y_true, y_pred):
    return ops.sum(ops.square(y_true - y_pred))


def worst(y_true, y_pred):
    return tf.reduce_max(tf.abs(y_true - y_pred))
