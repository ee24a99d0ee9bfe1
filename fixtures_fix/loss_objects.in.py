"""Keras loss objects built in the loss get reduction="none"; others are left alone."""
import keras
import tensorflow as tf
import tf_keras

GLOBAL_BCE = keras.losses.BinaryCrossentropy()


def bce_inline(y_true, y_pred):
    return keras.losses.BinaryCrossentropy()(y_true, y_pred)


def huber_local(y_true, y_pred):
    huber = keras.losses.Huber(delta=0.5)
    return 2.0 * huber(y_true, y_pred)


def mse_legacy(y_true, y_pred):
    mse = tf_keras.losses.MeanSquaredError(
        name="mse",
    )
    return mse(y_true, y_pred)


def bce_global(y_true, y_pred):
    return GLOBAL_BCE(y_true, y_pred)


def mae_metric(y_true, y_pred):
    return keras.metrics.MeanAbsoluteError()(y_true, y_pred)


def bce_reduction_sum(y_true, y_pred):
    return keras.losses.BinaryCrossentropy(reduction="sum")(y_true, y_pred)


def bce_suppressed_constructor(y_true, y_pred):
    bce = keras.losses.BinaryCrossentropy()  # noqa: LL103
    return bce(y_true, y_pred)
