import LinearAlgebra

/// A reproducible comparison of a learning rule's estimate with the exact gradient, in Double:
/// a seeded Hopfield network and batch (inputs uniform in `[0, 1]`, random one-hot targets),
/// relaxed to its free fixed point to `tolerance`, the exact `dL/dθ` by implicit
/// differentiation, and EP's estimate with its nudged phases relaxed to the same tolerance.
public struct GradientCheck: Sendable {
    public var energy: LayeredEnergy<Double>
    public var input: Matrix<Double>
    public var target: Matrix<Double>
    public var dynamics: ProjectedGradientDescent<Double>

    public init(layerSizes: [Int], batchSize: Int, seed: UInt64, stepSize: Double = 0.5,
                tolerance: Double = 1e-14, maximumSteps: Int = 200_000) {
        var generator = SeededGenerator(seed: seed)
        energy = .hopfield(layerSizes: layerSizes, using: &generator)
        input = .uniform(rows: batchSize, columns: layerSizes[0], in: 0...1, using: &generator)
        let classes = layerSizes[layerSizes.count - 1]
        target = Matrix(rows: batchSize, columns: classes)
        for row in 0..<batchSize { target[row, Int.random(in: 0..<classes, using: &generator)] = 1 }
        dynamics = ProjectedGradientDescent(stepSize: stepSize, steps: maximumSteps, tolerance: tolerance)
    }

    /// The free fixed point and the energy clamped at its input.
    public func freeEquilibrium() throws -> (ClampedEnergy<Double>, NetworkState<Double>) {
        var state = NetworkState(input: input, layerSizes: energy.layerSizes)
        let clamped = ClampedEnergy(energy, clamping: [0], at: state)
        var generator = SeededGenerator(seed: 0)
        try dynamics.relax(&state, under: clamped, nudge: nil, using: &generator)
        return (clamped, state)
    }

    /// The exact gradient `dL/dθ` at the free fixed point.
    public func exactGradient() throws -> [[Matrix<Double>]] {
        let (clamped, state) = try freeEquilibrium()
        return try ImplicitDifferentiation(fixedPointTolerance: 1e-10).gradient(energy: clamped, at: state, target: target)
    }

    /// EP's estimate at `beta` compared with the exact gradient.
    public func run(beta: Double, nudging: Nudging) throws -> GradientComparison {
        try compare(EquilibriumPropagation(beta: beta, nudging: nudging, dynamics: dynamics))
    }

    /// A rule's estimate, averaged over `samples` draws of its randomness (seeded), compared with
    /// the exact gradient at the free fixed point.
    public func compare<Rule: LearningRule<Double>>(_ rule: Rule, samples: Int = 1, seed: UInt64 = 0) throws -> GradientComparison {
        precondition(samples >= 1, "at least one sample")
        let (clamped, state) = try freeEquilibrium()
        let exact = try ImplicitDifferentiation(fixedPointTolerance: 1e-10).gradient(energy: clamped, at: state, target: target)
        var generator = SeededGenerator(seed: seed)
        var mean = exact.map { $0.map { Matrix<Double>(rows: $0.rows, columns: $0.columns) } }
        for _ in 0..<samples {
            let estimate = try rule.estimate(energy: clamped, freeState: state, target: target, using: &generator).gradient(of: energy)
            for i in mean.indices {
                for p in mean[i].indices { mean[i][p].add(estimate[i][p], scaledBy: 1 / Double(samples)) }
            }
        }
        return GradientComparison(estimate: mean, reference: exact, names: energy.terms.map { $0.name })
    }
}
