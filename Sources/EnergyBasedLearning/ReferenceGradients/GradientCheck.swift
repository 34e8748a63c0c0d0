import LinearAlgebra

/// A reproducible comparison of a learning rule's estimate with the exact gradient, in Double:
/// a seeded network and batch (inputs uniform in `[0, 1]`, random one-hot targets), relaxed to
/// its free fixed point to `tolerance`, the exact `dL/dθ`, and the rule's estimate with its
/// phases relaxed to the same tolerance.
public struct GradientCheck: Sendable {
    public var energy: LayeredEnergy<Double>
    public var input: Matrix<Double>
    public var target: Matrix<Double>
    /// The minimiser of the free phase (and of EP's phases in ``run(beta:nudging:)``).
    public var dynamics: any Dynamics<Double>
    /// Where the free phase starts: zero for the Hopfield energy, the feed-forward pass for a
    /// predictive-coding energy.
    public var initialState: NetworkState<Double>
    /// The loss `L = C(output, target)` whose gradient is the reference.
    public var cost: any Cost<Double> = SquaredError()

    /// The Hopfield energy of Scellier & Bengio (2017) on `layerSizes`.
    public init(layerSizes: [Int], batchSize: Int, seed: UInt64, stepSize: Double = 0.5,
                tolerance: Double = 1e-14, maximumSteps: Int = 200_000) {
        self.init(architecture: ArchitectureSpecification(layerSizes: layerSizes), batchSize: batchSize, seed: seed,
                  stepSize: stepSize, tolerance: tolerance, maximumSteps: maximumSteps)
    }

    /// The Hopfield energy on a (validated) `architecture`, dense or convolutional.
    public init(architecture: ArchitectureSpecification, batchSize: Int, seed: UInt64, stepSize: Double = 0.5,
                tolerance: Double = 1e-14, maximumSteps: Int = 200_000) {
        var generator = SeededGenerator(seed: seed)
        let energy = LayeredEnergy<Double>.hopfield(architecture: architecture, using: &generator)
        let layerSizes = architecture.layerSizes
        let (input, target) = Self.batch(layerSizes: layerSizes, batchSize: batchSize, using: &generator)
        self.init(energy: energy, input: input, target: target, initialState: NetworkState(input: input, layerSizes: layerSizes),
                  dynamics: ProjectedGradientDescent(stepSize: stepSize, steps: maximumSteps, tolerance: tolerance))
    }

    /// The predictive-coding energy on `layerSizes`, starting from its feed-forward pass.
    public static func predictiveCoding(
        layerSizes: [Int], hidden: Activation, output: Activation, precisions: [Double]? = nil, batchSize: Int, seed: UInt64,
        inferenceRate: Double = 0.1, tolerance: Double = 1e-14, maximumSteps: Int = 200_000
    ) throws -> GradientCheck {
        try predictiveCoding(architecture: ArchitectureSpecification(layerSizes: layerSizes), hidden: hidden, output: output,
                             precisions: precisions, batchSize: batchSize, seed: seed, inferenceRate: inferenceRate,
                             tolerance: tolerance, maximumSteps: maximumSteps)
    }

    /// The predictive-coding energy on a (validated) `architecture` without pooling, dense or
    /// convolutional, starting from its feed-forward pass.
    public static func predictiveCoding(
        architecture: ArchitectureSpecification, hidden: Activation, output: Activation, precisions: [Double]? = nil, batchSize: Int,
        seed: UInt64, inferenceRate: Double = 0.1, tolerance: Double = 1e-14, maximumSteps: Int = 200_000
    ) throws -> GradientCheck {
        var generator = SeededGenerator(seed: seed)
        let energy = LayeredEnergy<Double>.predictiveCoding(architecture: architecture, hidden: hidden, output: output,
                                                            precisions: precisions, using: &generator)
        let layerSizes = architecture.layerSizes
        let (input, target) = batch(layerSizes: layerSizes, batchSize: batchSize, using: &generator)
        return GradientCheck(energy: energy, input: input, target: target,
                             initialState: try Backpropagation.feedForward(energy, input: input),
                             dynamics: ProjectedGradientDescent(stepSize: inferenceRate, steps: maximumSteps, tolerance: tolerance))
    }

    /// The weak-feedback Hopfield energy (Xie & Seung 2003) with gain `γ`, its dynamics stepping
    /// layer `k` by `ε·γ^{−k}`. Its weights are those of the plain Hopfield check with the same seed.
    public static func weakFeedback(layerSizes: [Int], feedbackGain: Double, batchSize: Int, seed: UInt64, stepSize: Double = 0.5,
                                    tolerance: Double = 1e-14, maximumSteps: Int = 200_000) -> GradientCheck {
        var generator = SeededGenerator(seed: seed)
        let energy = LayeredEnergy<Double>.hopfield(layerSizes: layerSizes, feedbackGain: feedbackGain, using: &generator)
        let (input, target) = batch(layerSizes: layerSizes, batchSize: batchSize, using: &generator)
        return GradientCheck(
            energy: energy, input: input, target: target, initialState: NetworkState(input: input, layerSizes: layerSizes),
            dynamics: ProjectedGradientDescent(stepSize: stepSize, steps: maximumSteps, tolerance: tolerance,
                                               layerStepScales: LayeredEnergy.feedbackStepScales(layerCount: layerSizes.count,
                                                                                                 feedbackGain: feedbackGain)))
    }

    public init(energy: LayeredEnergy<Double>, input: Matrix<Double>, target: Matrix<Double>, initialState: NetworkState<Double>,
                dynamics: any Dynamics<Double>) {
        self.energy = energy
        self.input = input
        self.target = target
        self.initialState = initialState
        self.dynamics = dynamics
    }

    /// A network shape drawn from `seed`: 4–24 inputs, one to three hidden layers of 4–32 units,
    /// 2–10 outputs (a survey's shapes, reproducible from its seeds).
    public static func randomLayerSizes(seed: UInt64) -> [Int] {
        var generator = SeededGenerator(seed: seed ^ 0x5348_4150_4553)
        let hiddenLayers = Int.random(in: 1...3, using: &generator)
        return [Int.random(in: 4...24, using: &generator)] + (0..<hiddenLayers).map { _ in Int.random(in: 4...32, using: &generator) }
            + [Int.random(in: 2...10, using: &generator)]
    }

    /// Inputs uniform in `[0, 1]` and random one-hot targets.
    private static func batch(layerSizes: [Int], batchSize: Int, using generator: inout SeededGenerator) -> (Matrix<Double>, Matrix<Double>) {
        let input = Matrix<Double>.uniform(rows: batchSize, columns: layerSizes[0], in: 0...1, using: &generator)
        let classes = layerSizes[layerSizes.count - 1]
        var target = Matrix<Double>(rows: batchSize, columns: classes)
        for row in 0..<batchSize { target[row, Int.random(in: 0..<classes, using: &generator)] = 1 }
        return (input, target)
    }

    /// The free fixed point and the energy clamped at its input.
    public func freeEquilibrium() throws -> (ClampedEnergy<Double>, NetworkState<Double>) {
        var state = initialState
        let clamped = ClampedEnergy(energy, clamping: [0], at: state)
        var generator = SeededGenerator(seed: 0)
        try dynamics.relax(&state, under: clamped, using: &generator)
        return (clamped, state)
    }

    /// The exact gradient `dL/dθ` at the free fixed point.
    public func exactGradient() throws -> [[Matrix<Double>]] {
        let (clamped, state) = try freeEquilibrium()
        return try exactGradient(.implicitDifferentiation, clamped: clamped, state: state)
    }

    /// EP's estimate at `beta` compared with the exact gradient.
    public func run(beta: Double, nudging: Nudging) throws -> GradientComparison {
        try compare(EquilibriumPropagation(beta: beta, nudging: nudging, dynamics: dynamics))
    }

    /// Backprop's gradient through the feed-forward network of a predictive-coding energy, or
    /// through the zero-feedback limit of a Hopfield energy.
    public func backpropagationGradient() throws -> [[Matrix<Double>]] {
        if (try? FeedForwardChain(energy)) != nil {
            return try Backpropagation(cost: cost).gradient(energy: energy, input: input, target: target)
        }
        return try Backpropagation(cost: cost, matchingOutputLoss: true).gradient(ofFeedForwardLimit: energy, input: input, target: target)
    }

    /// The exact gradient a rule is measured against.
    public enum Reference: String, Sendable, CaseIterable {
        /// Implicit differentiation at the free fixed point (any energy).
        case implicitDifferentiation = "implicit-differentiation"
        /// Backprop through the feed-forward network (predictive-coding energies; the
        /// zero-feedback limit of Hopfield energies).
        case backpropagation
    }

    /// A rule's estimate, averaged over `samples` draws of its randomness (seeded), compared with
    /// the exact gradient at the free fixed point.
    public func compare<Rule: LearningRule<Double>>(_ rule: Rule, samples: Int = 1, seed: UInt64 = 0,
                                                    reference: Reference = .implicitDifferentiation) throws -> GradientComparison {
        let (clamped, state) = try freeEquilibrium()
        return try compare(rule, samples: samples, seed: seed, exact: try exactGradient(reference, clamped: clamped, state: state),
                           clamped: clamped, state: state)
    }

    /// What holds at the free fixed point and, when the theorem applies there, the comparison.
    public struct Report: Sendable {
        public var hypotheses: Hypotheses
        /// `nil` unless ``Hypotheses/status`` is ``Hypotheses/Status/valid``.
        public var comparison: GradientComparison?
    }

    /// The comparison when the theorem applies, and what holds at the free fixed point
    /// (``hypotheses(reference:)``): a fixed point not reached or not a strict minimum, a unit on
    /// its box's boundary with no force holding it, or a zero gradient leaves the comparison `nil`.
    public func report<Rule: LearningRule<Double>>(_ rule: Rule, samples: Int = 1, seed: UInt64 = 0,
                                                   reference: Reference = .implicitDifferentiation) throws -> Report {
        let (clamped, state) = try freeEquilibrium()
        let exact: [[Matrix<Double>]]
        do {
            exact = try exactGradient(reference, clamped: clamped, state: state)
        } catch let failure as ImplicitDifferentiation<Double>.Failure {
            // A fixed point not reached, or a Hessian that is not positive definite: the hypotheses say which.
            let hypotheses = hypotheses(reference: [], clamped: clamped, state: state)
            guard hypotheses.status == .notConverged || hypotheses.status == .notAMinimum else { throw failure }
            return Report(hypotheses: hypotheses)
        }
        let hypotheses = hypotheses(reference: exact, clamped: clamped, state: state)
        guard hypotheses.status == .valid else { return Report(hypotheses: hypotheses) }
        return Report(hypotheses: hypotheses, comparison: try compare(rule, samples: samples, seed: seed, exact: exact, clamped: clamped, state: state))
    }

    private func exactGradient(_ reference: Reference, clamped: ClampedEnergy<Double>, state: NetworkState<Double>) throws -> [[Matrix<Double>]] {
        switch reference {
        case .implicitDifferentiation: try ImplicitDifferentiation(cost: cost, fixedPointTolerance: 1e-10).gradient(energy: clamped, at: state, target: target)
        case .backpropagation: try backpropagationGradient()
        }
    }

    private func compare<Rule: LearningRule<Double>>(_ rule: Rule, samples: Int, seed: UInt64, exact: [[Matrix<Double>]],
                                                     clamped: ClampedEnergy<Double>, state: NetworkState<Double>) throws -> GradientComparison {
        precondition(samples >= 1, "at least one sample")
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
