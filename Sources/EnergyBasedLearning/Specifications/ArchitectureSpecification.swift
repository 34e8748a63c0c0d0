import LinearAlgebra

/// The layers of a network, each with its shape, and the interactions between them (the run
/// file's `architecture` section). An energy (``EnergySpecification``) turns each interaction into
/// its terms; each interaction has its own learning rate.
public struct ArchitectureSpecification: Codable, Sendable, Equatable {
    /// Layer 0 is the input, the last layer the output.
    public var layers: [LayerShape]
    /// Which layers interact, in the order of the learning rates.
    public var interactions: [InteractionSpecification]
    /// A factor `g_k` on each interaction's initial Glorot-uniform weights,
    /// `W_k ~ g_k·U(±√(6/(fan-in + fan-out)))` (`nil`: 1 for every interaction). The DCHN code of
    /// Scellier et al. (2023) starts its convolutions at gains 0.5–0.6, weak enough that the
    /// free phase of a deep network settles.
    public var initialGains: [Double]?

    public init(layers: [LayerShape], interactions: [InteractionSpecification], initialGains: [Double]? = nil) {
        self.layers = layers
        self.interactions = interactions
        self.initialGains = initialGains
    }

    /// A chain of dense layers of `layerSizes` units, each interacting with the next.
    public init(layerSizes: [Int]) {
        self.init(layers: layerSizes.map(LayerShape.init(units:)),
                  interactions: layerSizes.indices.dropFirst().map { .dense(lower: $0 - 1, upper: $0) })
    }

    /// Units per layer.
    public var layerSizes: [Int] { layers.map(\.units) }

    /// The layers for a summary line: `784-500-10`, or with convolutions
    /// `1×28×28-8×14×14-10 (convolution 0-1 (kernel 4, stride 2, padding 1))`.
    public var summary: String {
        let convolutions = interactions.filter(\.isConvolution)
        return layers.map(\.description).joined(separator: "-")
            + (convolutions.isEmpty ? "" : " (" + convolutions.map(\.description).joined(separator: ", ") + ")")
    }

    /// Whether some interaction is a convolution.
    public var hasConvolution: Bool { interactions.contains(where: \.isConvolution) }

    /// Whether some convolution is max-pooled.
    public var hasPooling: Bool {
        interactions.contains { if case .convolution(_, _, _, _, _, _?) = $0 { true } else { false } }
    }

    /// Throws a ``SpecificationError`` (key `architecture.layers` or `architecture.interactions`)
    /// unless there are at least two layers of positive size and each layer interacts with the next,
    /// and with no other: densely (any shapes, a `C×H×W` layer flattened), or by a convolution from a
    /// `C×H×W` layer onto the `C'×H'×W'` layer its geometry gives.
    public func validate() throws {
        let listed = layers.map(\.description).joined(separator: ", ")
        try require(layers.count >= 2 && layers.allSatisfy { !$0.dimensions.isEmpty && $0.dimensions.allSatisfy { $0 > 0 } },
                    "architecture.layers", "at least two layers of positive size", "[\(listed)]")
        try require(layers.allSatisfy { [1, 3].contains($0.dimensions.count) }, "architecture.layers",
                    "layers of units [n] or of channels and pixels [C, H, W]", "[\(listed)]")
        let chain = interactions.map { ($0.lower, $0.upper) }
        try require(chain.elementsEqual(layers.indices.dropFirst().map { ($0 - 1, $0) }, by: ==), "architecture.interactions",
                    "one interaction from each layer to the next", interactions.map(\.description).joined(separator: ", "))
        for interaction in interactions where interaction.isConvolution {
            _ = try convolution(of: interaction)
        }
        if let initialGains {
            try require(initialGains.count == interactions.count && initialGains.allSatisfy { $0.isFinite && $0 > 0 }, "architecture.gains",
                        "one positive gain per interaction (\(interactions.count))", initialGains.map { "\($0)" }.joined(separator: ", "))
        }
    }

    /// The initial weight of `interaction` (validated architectures only): Glorot-uniform
    /// (``Connection/glorotUniformWeight(lowerUnits:upperUnits:using:)``) times its gain.
    public func initialWeight<Scalar: BLASScalar, G: RandomNumberGenerator>(of interaction: InteractionSpecification,
                                                                           using generator: inout G) -> Matrix<Scalar> {
        var weight: Matrix<Scalar> = connection(of: interaction).glorotUniformWeight(
            lowerUnits: layers[interaction.lower].units, upperUnits: layers[interaction.upper].units, using: &generator)
        if let gain = initialGains?[interaction.upper - 1], gain != 1 { weight.scale(by: Scalar(gain)) }
        return weight
    }

    /// How `interaction`'s lower layer drives its upper one, its pooling aside (validated
    /// architectures only).
    public func connection(of interaction: InteractionSpecification) -> Connection {
        guard interaction.isConvolution else { return .dense }
        guard let (geometry, _) = try? convolution(of: interaction) else {
            preconditionFailure("\(interaction) does not fit its layers: validate the architecture first")
        }
        return .convolution(geometry)
    }

    /// The geometry of a convolutional interaction between its layers' shapes, and its pooling, or a
    /// ``SpecificationError`` (key `architecture.interactions`) saying why the shapes do not chain.
    public func convolution(of interaction: InteractionSpecification) throws -> (geometry: ConvolutionGeometry, pooling: MaxPooling?) {
        guard case let .convolution(lower, upper, kernel, stride, padding, window) = interaction else {
            throw SpecificationError(key: "architecture.interactions", expected: "a convolution", value: interaction.description)
        }
        let (input, output) = (layers[lower].dimensions, layers[upper].dimensions)
        try require(input.count == 3 && output.count == 3, "architecture.interactions",
                    "a convolution between two layers of shape [C, H, W]", "\(interaction) between \(layers[lower]) and \(layers[upper])")
        let geometry = ConvolutionGeometry(inputChannels: input[0], height: input[1], width: input[2], outputChannels: output[0],
                                           kernel: kernel, stride: stride, padding: padding)
        if let problem = geometry.problem {
            throw SpecificationError(key: "architecture.interactions", expected: "a convolution that fits its input",
                                     value: "\(interaction) on \(layers[lower]): \(problem)")
        }
        guard let window else {
            try require([geometry.outputHeight, geometry.outputWidth] == Array(output[1...]), "architecture.interactions",
                        "the output shape the convolution gives, \(output[0])×\(geometry.outputHeight)×\(geometry.outputWidth)",
                        "\(interaction) onto \(layers[upper])")
            return (geometry, nil)
        }
        let pooling = MaxPooling(channels: output[0], height: geometry.outputHeight, width: geometry.outputWidth, window: window)
        try require(window >= 2, "architecture.interactions", "a pooling window of at least 2", "\(interaction)")
        if let problem = pooling.problem {
            throw SpecificationError(key: "architecture.interactions", expected: "pooling windows that tile the convolution's output",
                                     value: "\(interaction) on \(layers[lower]): \(problem)")
        }
        try require([pooling.pooledHeight, pooling.pooledWidth] == Array(output[1...]), "architecture.interactions",
                    "the output shape the pooled convolution gives, \(output[0])×\(pooling.pooledHeight)×\(pooling.pooledWidth)",
                    "\(interaction) onto \(layers[upper])")
        return (geometry, pooling)
    }
}

/// The shape of one layer's state: `[n]` units (or, for convolutional layers, `[C, H, W]`).
public struct LayerShape: Codable, Sendable, Equatable, CustomStringConvertible {
    public var dimensions: [Int]

    public init(dimensions: [Int]) { self.dimensions = dimensions }

    public init(units: Int) { self.init(dimensions: [units]) }

    /// The number of units.
    public var units: Int { dimensions.reduce(1, *) }

    public var description: String { dimensions.map(String.init).joined(separator: "×") }

    /// A shape is written as its list of dimensions, `[784]`.
    public init(from decoder: Decoder) throws { dimensions = try decoder.singleValueContainer().decode([Int].self) }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(dimensions)
    }
}

/// An interaction between two layers.
public enum InteractionSpecification: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Every unit of `lower` with every unit of `upper`, through a `size(lower) × size(upper)` weight.
    case dense(lower: Int, upper: Int)
    /// A convolution of the `C×H×W` layer `lower` by `C'` kernels of `kernel × kernel`, with a stride
    /// and a zero padding, onto the `C'×H'×W'` layer `upper` (``ConvolutionInteraction``); with
    /// `pooling` (a window of 2 or more), max-pooled over non-overlapping windows of that size first.
    case convolution(lower: Int, upper: Int, kernel: Int, stride: Int, padding: Int, pooling: Int? = nil)

    public var lower: Int {
        switch self {
        case let .dense(lower, _), let .convolution(lower, _, _, _, _, _): lower
        }
    }

    public var upper: Int {
        switch self {
        case let .dense(_, upper), let .convolution(_, upper, _, _, _, _): upper
        }
    }

    public var isConvolution: Bool {
        if case .convolution = self { true } else { false }
    }

    public var description: String {
        switch self {
        case let .dense(lower, upper): "dense \(lower)-\(upper)"
        case let .convolution(lower, upper, kernel, stride, padding, pooling):
            "convolution \(lower)-\(upper) (kernel \(kernel), stride \(stride), padding \(padding)\(pooling.map { ", max pooling \($0)×\($0)" } ?? ""))"
        }
    }
}
