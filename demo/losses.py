"""Losses for the cell-segmentation + cell-count demo model."""
import tensorflow as tf
from tensorflow.keras import backend as K


def dice_loss(y_true, y_pred, smooth=1.0):
    y_true_f = K.flatten(y_true)
    y_pred_f = K.flatten(y_pred)
    intersection = K.sum(y_true_f * y_pred_f)
    dice = (2.0 * intersection + smooth) / (K.sum(y_true_f) + K.sum(y_pred_f) + smooth)
    return 1.0 - dice


def bce_dice_loss(y_true, y_pred):
    bce = tf.keras.losses.BinaryCrossentropy()
    return bce(y_true, y_pred) + dice_loss(y_true, y_pred)


def binary_focal_loss(gamma=2.0, alpha=0.25):
    def focal(y_true, y_pred):
        y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
        p_t = y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred)
        alpha_t = y_true * alpha + (1.0 - y_true) * (1.0 - alpha)
        return tf.reduce_mean(-alpha_t * tf.pow(1.0 - p_t, gamma) * tf.math.log(p_t))

    return focal


def weighted_mse(y_true, y_pred):
    """Per-sample squared error; large counts matter more."""
    weights = 1.0 + tf.math.log1p(y_true)
    return tf.reduce_mean(weights * tf.square(y_true - y_pred), axis=-1)


class SoftDiceLoss(tf.keras.losses.Loss):
    """Dice per image: one loss value per sample, as Keras expects."""

    def __init__(self, smooth=1.0, name="soft_dice"):
        super().__init__(name=name)
        self.smooth = smooth

    def call(self, y_true, y_pred):
        intersection = tf.reduce_sum(y_true * y_pred, axis=[1, 2, 3])
        total = tf.reduce_sum(y_true, axis=[1, 2, 3]) + tf.reduce_sum(y_pred, axis=[1, 2, 3])
        return 1.0 - (2.0 * intersection + self.smooth) / (total + self.smooth)
