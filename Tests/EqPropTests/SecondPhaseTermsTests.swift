import EnergyBasedLearning
import LinearAlgebra
import Testing

/// The terms a second phase adds to (or changes in) the function it minimises: the nudge
/// ``CostTerm`` and PC-Nudge's ``HeldPredictionError``, checked like every energy term against
/// finite differences of `F`, and their curvature bounds against the Hessian they bound.
@Suite("Second-phase terms: derivatives against finite differences")
struct SecondPhaseTermsTests {
    let h = 1e-5

    /// The second phases: EP's nudge (squared error, cross-entropy, a negative β) on the Hopfield
    /// energy, and PC-Nudge's held output error on predictive-coding energies.
    static let phases: [(String, @Sendable () -> (ClampedEnergy<Double>, NetworkState<Double>))] = [
        ("β·squared error", { nudged(SquaredError(), beta: 0.7) }),
        ("β·cross-entropy", { nudged(CrossEntropy(), beta: 0.7) }),
        ("−β·cross-entropy", { nudged(CrossEntropy(), beta: -0.4) }),
        ("held error, tanh output", { held(.tanh) }),
        ("held error, sigmoid output", { held(.sigmoid) }),
        ("held error, identity output", { held(.identity) }),
    ]

    static func nudged(_ cost: any Cost<Double>, beta: Double) -> (ClampedEnergy<Double>, NetworkState<Double>) {
        let problem = SmallProblem()
        let state = problem.interiorState()
        let clamped = ClampedEnergy(problem.energy, clamping: [0], at: state)
        return (clamped.adding(CostTerm(cost: cost, target: problem.target, beta: beta, layer: state.layers.count - 1)), state)
    }

    static func held(_ output: Activation) -> (ClampedEnergy<Double>, NetworkState<Double>) {
        let problem = SmallProblem.predictiveCoding(hidden: .tanh, output: output)
        let state = problem.interiorState()
        let last = state.layers.count - 1
        let chain = try! FeedForwardChain(problem.energy)
        var error = problem.target
        error.add(state.output, scaledBy: -1)
        error.scale(by: 0.3)
        let clamped = ClampedEnergy(problem.energy, clamping: [0, last], at: state)
        return (clamped.replacingTerm(at: chain.output.index, with: chain.output.term.holdingError(error)), state)
    }

    @Test("∂F/∂s and the Hessian-vector product equal finite differences of F and of ∂F/∂s", arguments: phases.indices)
    func derivatives(phase: Int) {
        let (energy, state) = Self.phases[phase].1()
        var gradient = NetworkState(zerosLike: state)
        energy.stateGradient(at: state, into: &gradient)
        var generator = SeededGenerator(seed: 4)
        var direction = NetworkState(zerosLike: state)
        for k in energy.freeLayers { direction.layers[k] = .uniform(rows: state.batchSize, columns: state.layers[k].columns, in: -1...1, using: &generator) }
        var product = NetworkState(zerosLike: state)
        energy.hessianProduct(at: state, direction: direction, into: &product)
        var plus = state, minus = state
        plus.add(direction, scaledBy: h)
        minus.add(direction, scaledBy: -h)
        let slope = (energy.value(at: plus) - energy.value(at: minus)) / (2 * h)
        #expect(abs(slope - gradient.dot(direction)) < 1e-7, "\(Self.phases[phase].0): \(slope) vs \(gradient.dot(direction))")
        var gradientPlus = NetworkState(zerosLike: state), gradientMinus = NetworkState(zerosLike: state)
        energy.stateGradient(at: plus, into: &gradientPlus)
        energy.stateGradient(at: minus, into: &gradientMinus)
        for k in energy.freeLayers {
            var numeric = gradientPlus.layers[k] - gradientMinus.layers[k]
            numeric.scale(by: 1 / (2 * h))
            #expect(maxAbsDifference(numeric, product.layers[k]) < 1e-7, "\(Self.phases[phase].0), layer \(k)")
        }
    }

    @Test("Each term's curvature bound is at least the largest curvature along random directions", arguments: phases.indices)
    func curvatureBound(phase: Int) throws {
        let (energy, state) = Self.phases[phase].1()
        let sums = try #require(energy.curvatureRowSums())
        let bound = sums.values.max() ?? 0
        var generator = SeededGenerator(seed: 8)
        for _ in 0..<20 {
            var direction = NetworkState(zerosLike: state)
            for k in energy.freeLayers { direction.layers[k] = .uniform(rows: state.batchSize, columns: state.layers[k].columns, in: -1...1, using: &generator) }
            var product = NetworkState(zerosLike: state)
            energy.hessianProduct(at: state, direction: direction, into: &product)
            #expect(abs(direction.dot(product)) <= bound * direction.dot(direction) + 1e-12, "\(Self.phases[phase].0)")
        }
    }
}
