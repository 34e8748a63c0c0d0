import Datasets
import EnergyBasedLearning
import LinearAlgebra

/// The data a run trains and is measured on (the run file's top-level `dataset` and `pixels`).
public struct DataSpecification: Codable, Sendable, Equatable {
    public var dataset: DatasetName
    /// How an image's bytes become the input layer's state.
    public var pixels: PixelScaling

    public init(dataset: DatasetName = .mnist, pixels: PixelScaling = .unit) {
        self.dataset = dataset
        self.pixels = pixels
    }

    /// The training and test sets from `directory` (downloaded there first if missing and
    /// `download`), as Float matrices with scaled pixels; the first `trainLimit` training examples
    /// when it is set.
    public func load(from directory: DataDirectory, download: Bool = true, trainLimit: Int? = nil) throws
        -> (train: ClassificationData<Float>, test: ClassificationData<Float>)
    {
        let splits = try directory.load(dataset, download: download)
        let train = trainLimit.map { splits.train.prefix($0) } ?? splits.train
        return (ClassificationData(train, pixels: pixels), ClassificationData(splits.test, pixels: pixels))
    }
}

/// How a pixel's byte `p ∈ {0, …, 255}` becomes an input unit's state.
public enum PixelScaling: String, Codable, Sendable, CaseIterable {
    /// `p/255 ∈ [0, 1]`, as in Scellier & Bengio (2017).
    case unit
    /// `2p/255 − 1 ∈ [−1, 1]`, centred (torchvision's `Normalize(0.5, 0.5)`, as in the pcx benchmark).
    case symmetric

    /// The input state for byte `p`.
    public func value<Scalar: BLASScalar>(_ p: UInt8) -> Scalar {
        switch self {
        case .unit: Scalar(p) / 255
        case .symmetric: 2 * Scalar(p) / 255 - 1
        }
    }
}

extension ClassificationData<Float> {
    /// One row per image, each pixel scaled by `pixels` (through a 256-entry table).
    public init(_ images: LabeledImages, pixels: PixelScaling) {
        let value: [Float] = (0...255).map { pixels.value(UInt8($0)) }
        let inputs = Matrix<Float>(rows: images.count, columns: images.pixelsPerImage, elements: images.pixels.map { value[Int($0)] })
        self.init(inputs: inputs, labels: images.labels.map(Int.init), classCount: images.classCount)
    }
}
