"""How the image is parameterised: what the optimiser changes, and how it becomes pixels in [0, 1].

Every image of a batch starts from the same values (drawn from the seed), so a batch of objectives
renders the same images as each objective alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

# Lucid's square root of ImageNet's RGB colour correlation: one decorrelated unit moves the
# colours the way natural images vary, so the optimiser is not stuck making grey.
COLOR_CORRELATION_SVD_SQRT = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
COLOR_DECORRELATION = COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0))


@dataclass(frozen=True)
class PixelImage:
    """Plain pixels, starting as grey with small uniform noise, kept inside [0, 1] after each step."""

    size: int
    channels: int = 3
    noise: float = 0.0625  # keras.io's (uniform - 0.5) * 0.25 in [-1, 1] units
    background: float = 0.5  # what the transformations pad with

    def initial(self, batch: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        one = 0.5 + rng.uniform(-self.noise, self.noise, (1, self.size, self.size, self.channels))
        return np.repeat(one.astype(np.float32), batch, axis=0)

    def to_image(self, params: tf.Tensor) -> tf.Tensor:
        return params

    def project(self, params: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(params, 0.0, 1.0)


def fft_frequencies(size: int) -> np.ndarray:
    """|frequency| of each coefficient of a real 2D FFT of a size x size image, shape (size, size//2+1)."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    return np.sqrt(fx * fx + fy * fy)


@dataclass(frozen=True)
class FourierImage:
    """A decorrelated Fourier basis: spectrum coefficients scaled by 1/f, colours decorrelated, then a sigmoid.

    Scaling by 1/f makes every frequency equally easy to change, so the optimiser does not fill the
    image with the high-frequency patterns that pixel steps favour (Olah et al., Feature Visualization).
    """

    size: int
    channels: int = 3
    decay_power: float = 1.0
    sd: float = 0.01
    decorrelate: bool = True
    background: float = 0.5

    def initial(self, batch: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        one = rng.normal(0.0, self.sd, (1, 2, self.channels, self.size, self.size // 2 + 1))
        return np.repeat(one.astype(np.float32), batch, axis=0)

    def spectrum_scale(self) -> np.ndarray:
        freqs = fft_frequencies(self.size)
        scale = 1.0 / np.maximum(freqs, 1.0 / self.size) ** self.decay_power
        return (scale * self.size).astype(np.float32)  # size = sqrt(w * h) keeps the pixel scale independent of size

    def to_image(self, params: tf.Tensor) -> tf.Tensor:
        scale = tf.constant(self.spectrum_scale())
        spectrum = tf.complex(params[:, 0] * scale, params[:, 1] * scale)
        image = tf.signal.irfft2d(spectrum, fft_length=[self.size, self.size])  # (B, C, H, W)
        image = tf.transpose(image, (0, 2, 3, 1)) / 4.0
        if self.decorrelate and self.channels == 3:
            image = tf.einsum("bhwc,dc->bhwd", image, tf.constant(COLOR_DECORRELATION))
        return tf.sigmoid(image + self.offset()) * self.window()

    def offset(self) -> float:
        return 0.0

    def window(self) -> tf.Tensor | float:
        return 1.0

    def project(self, params: tf.Tensor) -> tf.Tensor:
        return params


@dataclass(frozen=True)
class DigitImage(FourierImage):
    """MNIST's look for a grey Fourier image: white ink on black, smooth strokes, kept inside the centred box.

    MNIST centres each digit in a 20x20 box of a 28x28 image (4 px margin) on a black background;
    without these priors the ascent fills the whole square with saturated blobs (p = 1.00, no digit).
    """

    channels: int = 1
    decay_power: float = 1.5  # steeper than 1/f: pen strokes, not texture
    decorrelate: bool = False
    background: float = 0.0
    dark: float = 3.0  # sigmoid(-3) = 0.05: every pixel starts black
    margin: int = 4

    def offset(self) -> float:
        return -self.dark

    def window(self) -> tf.Tensor:
        """1 inside the centred box, falling to 0 over 1.5 px outside it."""
        r = np.arange(self.size, dtype=np.float32)
        half = self.size / 2 - self.margin
        ramp = np.clip(half + 1.5 - np.abs(r - (self.size - 1) / 2), 0.0, 1.5) / 1.5
        return tf.constant((ramp[:, None] * ramp[None, :])[None, :, :, None])
