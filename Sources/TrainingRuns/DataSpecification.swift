import Datasets
import EnergyBasedLearning
import LinearAlgebra

/// The data a run trains and is measured on (the run file's top-level `dataset`, `pixels` and
/// `validation`).
public struct DataSpecification: Codable, Sendable, Equatable {
    public var dataset: DatasetName
    /// How an image's bytes become the input layer's state.
    public var pixels: PixelScaling
    /// The last `validation` examples of the training set are held out to choose the epoch (and any
    /// setting) on, so that the test set is measured, never chosen on (0: none).
    public var validation: Int

    public init(dataset: DatasetName = .mnist, pixels: PixelScaling = .unit, validation: Int = 0) {
        self.dataset = dataset
        self.pixels = pixels
        self.validation = validation
    }

    /// Reads a description that may predate `validation` (none then).
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dataset = try container.decode(DatasetName.self, forKey: .dataset)
        pixels = try container.decode(PixelScaling.self, forKey: .pixels)
        validation = try container.decodeIfPresent(Int.self, forKey: .validation) ?? 0
    }

    /// The training, validation and test sets from `directory` (downloaded there first if missing
    /// and `download`), as Float matrices with scaled pixels: the validation set is the last
    /// `validation` examples of the training file, the training set the ones before (their first
    /// `trainLimit` when it is set).
    public func load(from directory: DataDirectory, download: Bool = true, trainLimit: Int? = nil) throws -> DataSplits {
        let splits = try directory.load(dataset, download: download)
        guard validation >= 0, validation < splits.train.count else {
            throw SpecificationError(key: "validation", expected: "0 to \(splits.train.count - 1) examples held out of the \(splits.train.count) of \(dataset.rawValue)'s training set", value: validation)
        }
        var train = splits.train.prefix(splits.train.count - validation)
        if let trainLimit { train = train.prefix(trainLimit) }
        return DataSplits(training: ClassificationData(train, pixels: pixels),
                          validation: validation > 0 ? ClassificationData(splits.train.suffix(validation), pixels: pixels) : nil,
                          test: ClassificationData(splits.test, pixels: pixels))
    }
}

/// A run's data: what it trains on, what it chooses on (if held out), what it is measured on.
public struct DataSplits: Sendable {
    public var training: ClassificationData<Float>
    public var validation: ClassificationData<Float>?
    public var test: ClassificationData<Float>

    public init(training: ClassificationData<Float>, validation: ClassificationData<Float>? = nil, test: ClassificationData<Float>) {
        self.training = training
        self.validation = validation
        self.test = test
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
