"""Reductions of flattened tensors (LL104): made per sample with --unsafe-fixes, the flattens
and every reduction of the flattened values together."""
import numpy as np
import tensorflow as tf
from keras import ops
from tensorflow.keras import backend as K

SMOOTH = 1.0


def dice_coef(y_true, y_pred, smooth=1.0):
    y_true_f = K.batch_flatten(y_true)
    y_pred_f = K.batch_flatten(y_pred)
    intersection = K.sum(y_true_f * y_pred_f, axis=-1)
    return (2.0 * intersection + smooth) / (K.sum(y_true_f, axis=-1) + K.sum(y_pred_f, axis=-1) + smooth)


def dice_coef_loss(y_true, y_pred):
    return 1.0 - dice_coef(y_true, y_pred)


def soft_dice_loss(y_true, y_pred):
    # the same with tf.reshape and an epsilon from the backend
    t = tf.reshape(y_true, [tf.shape(y_true)[0], -1])
    p = tf.reshape(y_pred, (tf.shape(y_pred)[0], -1))
    numerator = 2.0 * tf.reduce_sum(t * p, axis=-1) + K.epsilon()
    denominator = tf.reduce_sum(tf.square(t), axis=-1) + tf.reduce_sum(tf.square(p), axis=-1) + K.epsilon()
    return 1.0 - numerator / denominator


def jaccard_loss(y_true, y_pred):
    intersection = K.sum(K.batch_flatten(y_true) * K.batch_flatten(y_pred), axis=-1)
    union = K.sum(K.batch_flatten(y_true), axis=-1) + K.sum(K.batch_flatten(y_pred), axis=-1) - intersection
    return 1.0 - (intersection + SMOOTH) / (union + SMOOTH)


def raveled_l1(y_true, y_pred):
    diff = ops.reshape(y_true, (ops.shape(y_true)[0], -1)) - ops.reshape(y_pred, (ops.shape(y_pred)[0], -1))
    return ops.sum(ops.abs(diff), axis=-1)


def flat_mse(y_true, y_pred):
    return K.mean(K.square(K.batch_flatten(y_true) - K.batch_flatten(y_pred)), axis=-1)


def dice_and_bce(y_true, y_pred):
    # the flattened tensors also feed a per-element BCE: left alone
    y_true_f = K.flatten(y_true)
    y_pred_f = K.flatten(y_pred)
    bce = K.mean(K.binary_crossentropy(y_true_f, y_pred_f))
    dice = (2.0 * K.sum(y_true_f * y_pred_f) + SMOOTH) / (K.sum(y_true_f) + K.sum(y_pred_f) + SMOOTH)
    return bce + 1.0 - dice


def partly_suppressed_dice(y_true, y_pred):
    # one reduction of the group is suppressed: the flattens are shared, so no fix
    y_true_f = K.flatten(y_true)
    y_pred_f = K.flatten(y_pred)
    intersection = K.sum(y_true_f * y_pred_f)  # noqa: LL104
    return 1.0 - (2.0 * intersection + SMOOTH) / (K.sum(y_true_f) + K.sum(y_pred_f) + SMOOTH)


def unet(size=64):
    inputs = tf.keras.Input((size, size, 1))
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    outputs = tf.keras.layers.Conv2D(1, 1, activation="sigmoid")(x)
    return tf.keras.Model(inputs, outputs)


if __name__ == "__main__":
    images = np.random.rand(32, 64, 64, 1).astype("float32")
    masks = (np.random.rand(32, 64, 64, 1) > 0.7).astype("float32")
    model = unet()
    for loss in (dice_coef_loss, soft_dice_loss, jaccard_loss, raveled_l1, flat_mse, dice_and_bce,
                 partly_suppressed_dice):
        model.compile(optimizer="adam", loss=loss, metrics=[dice_coef])
        model.fit(images, masks, epochs=1, batch_size=8, verbose=0)
