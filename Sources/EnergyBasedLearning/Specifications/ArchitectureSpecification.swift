/// The layers of a network, each with its shape, and the interactions between them (the run
/// file's `architecture` section). An energy (``EnergySpecification``) turns each interaction into
/// its terms; each interaction has its own learning rate.
public struct ArchitectureSpecification: Codable, Sendable, Equatable {
    /// Layer 0 is the input, the last layer the output.
    public var layers: [LayerShape]
    /// Which layers interact, in the order of the learning rates.
    public var interactions: [InteractionSpecification]

    public init(layers: [LayerShape], interactions: [InteractionSpecification]) {
        self.layers = layers
        self.interactions = interactions
    }

    /// A chain of dense layers of `layerSizes` units, each interacting with the next.
    public init(layerSizes: [Int]) {
        self.init(layers: layerSizes.map(LayerShape.init(units:)),
                  interactions: layerSizes.indices.dropFirst().map { .dense(lower: $0 - 1, upper: $0) })
    }

    /// Units per layer.
    public var layerSizes: [Int] { layers.map(\.units) }

    /// Throws a ``SpecificationError`` (key `architecture.layers`) unless there are at least two
    /// layers of positive size and each layer interacts densely with the next, and with no other.
    public func validate() throws {
        let listed = layers.map(\.description).joined(separator: ", ")
        try require(layers.count >= 2 && layers.allSatisfy { !$0.dimensions.isEmpty && $0.dimensions.allSatisfy { $0 > 0 } },
                    "architecture.layers", "at least two layers of positive size", "[\(listed)]")
        try require(layers.allSatisfy { $0.dimensions.count == 1 }, "architecture.layers",
                    "layers of units (convolutional layers C×H×W are not implemented)", "[\(listed)]")
        try require(interactions == ArchitectureSpecification(layerSizes: layerSizes).interactions, "architecture.interactions",
                    "a dense interaction from each layer to the next", interactions.map(\.description).joined(separator: ", "))
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

    public var description: String {
        switch self {
        case let .dense(lower, upper): "dense \(lower)-\(upper)"
        }
    }
}
