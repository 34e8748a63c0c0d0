import LinearAlgebra

/// Random changes to the training images, drawn anew each time an example enters a batch: a
/// translation by up to ``shift`` pixels along each axis, the image's border repeated into the
/// space it leaves, and, with ``horizontalFlip``, a mirror image with probability ½. These are
/// torchvision's `RandomCrop(size, padding: shift, padding_mode: "edge")` and
/// `RandomHorizontalFlip(0.5)`, which the comparative study's code (Scellier et al. 2023) applies
/// to MNIST and Fashion-MNIST (the flip to Fashion-MNIST and CIFAR only).
///
/// For an image `x` of `channels × height × width`, the draw `(δᵢ, δⱼ, flipped)` gives
///
///     x'[c, i, j] = x[c, clamp(i − δᵢ), m(clamp(j − δⱼ))],   δᵢ, δⱼ uniform in {−shift, …, shift},
///
/// with `clamp` into the image's rows (columns) and `m(j) = width − 1 − j` if flipped, `j` if not.
/// Only training batches are changed (``Trainer/trainEpoch(on:progress:)``); validation and test
/// images are measured as they are. The draws come from the trainer's generator, so a run that
/// resumes from a checkpoint draws what it would have drawn.
public struct ImageAugmentation: Sendable, Equatable {
    /// The largest translation, in pixels, along each axis (0: none).
    public var shift: Int
    /// Whether half of the images, drawn at random, are mirrored left to right.
    public var horizontalFlip: Bool
    /// The shape of each input row, `channels × height × width`, row-major.
    public var channels: Int
    public var height: Int
    public var width: Int

    public init(shift: Int, horizontalFlip: Bool, channels: Int, height: Int, width: Int) {
        precondition(shift >= 0 && shift < Swift.min(height, width), "a shift of 0 up to the image's side")
        (self.shift, self.horizontalFlip, self.channels, self.height, self.width) = (shift, horizontalFlip, channels, height, width)
    }

    /// What is drawn for one example: its translation and whether it is mirrored.
    public struct Draw: Sendable, Equatable {
        public var rows: Int
        public var columns: Int
        public var flipped: Bool

        public init(rows: Int, columns: Int, flipped: Bool) { (self.rows, self.columns, self.flipped) = (rows, columns, flipped) }
    }

    /// `count` draws, one per example of a batch, in order (translation, then flip).
    public func draws(count: Int, using generator: inout SeededGenerator) -> [Draw] {
        (0..<count).map { _ in
            Draw(rows: shift > 0 ? Int.random(in: -shift...shift, using: &generator) : 0,
                 columns: shift > 0 ? Int.random(in: -shift...shift, using: &generator) : 0,
                 flipped: horizontalFlip ? Bool.random(using: &generator) : false)
        }
    }

    /// Row `r` of `images` changed by `draws[r]`.
    public func apply<Scalar: BLASScalar>(_ draws: [Draw], to images: inout Matrix<Scalar>) {
        precondition(draws.count == images.rows && images.columns == channels * height * width, "one draw per image of channels × height × width")
        let plane = height * width
        var source = [Scalar](repeating: 0, count: images.columns)
        for (row, draw) in draws.enumerated() where draw != Draw(rows: 0, columns: 0, flipped: false) {
            let start = row * images.columns
            for k in 0..<images.columns { source[k] = images.elements[start + k] }
            let columnFrom = (0..<width).map { j in
                let moved = Swift.min(Swift.max(j - draw.columns, 0), width - 1)
                return draw.flipped ? width - 1 - moved : moved
            }
            for c in 0..<channels {
                for i in 0..<height {
                    let from = c * plane + Swift.min(Swift.max(i - draw.rows, 0), height - 1) * width, to = start + c * plane + i * width
                    for j in 0..<width { images.elements[to + j] = source[from + columnFrom[j]] }
                }
            }
        }
    }
}
