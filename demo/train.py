"""Train a tiny U-Net that segments cells and regresses their count.

    python train.py
"""
import numpy as np
import tensorflow as tf

from losses import SoftDiceLoss, bce_dice_loss, binary_focal_loss, weighted_mse
from metrics import dice_coef


def build_model(size=64):
    image = tf.keras.Input(shape=(size, size, 1))
    c1 = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")(image)
    p1 = tf.keras.layers.MaxPooling2D()(c1)
    c2 = tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu")(p1)
    u1 = tf.keras.layers.UpSampling2D()(c2)
    c3 = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")(tf.keras.layers.Concatenate()([u1, c1]))
    mask = tf.keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask")(c3)
    pooled = tf.keras.layers.GlobalAveragePooling2D()(c2)
    count = tf.keras.layers.Dense(1, activation="softplus", name="count")(pooled)
    return tf.keras.Model(image, {"mask": mask, "count": count})


def fake_data(n=64, size=64):
    images = np.random.rand(n, size, size, 1).astype("float32")
    masks = (np.random.rand(n, size, size, 1) > 0.8).astype("float32")
    counts = np.random.randint(0, 40, size=(n, 1)).astype("float32")
    return images, {"mask": masks, "count": counts}


if __name__ == "__main__":
    images, targets = fake_data()

    model = build_model()
    model.compile(
        optimizer="adam",
        loss={"mask": bce_dice_loss, "count": weighted_mse},
        metrics={"mask": [dice_coef]},
    )
    model.fit(images, targets, epochs=2, batch_size=8)

    model = build_model()
    model.compile(optimizer="adam", loss={"mask": binary_focal_loss(gamma=2.0), "count": weighted_mse})
    model.fit(images, targets, epochs=2, batch_size=8)

    model = build_model()
    model.compile(optimizer="adam", loss={"mask": SoftDiceLoss(), "count": weighted_mse})
    model.fit(images, targets, epochs=2, batch_size=8)
