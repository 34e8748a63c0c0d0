import EnergyBasedLearning
import LinearAlgebra

extension Trainer where Scalar == Float {
    /// How well the rule's update for the current parameters points along the exact gradient
    /// `dL/dθ`, measured in Double on `examples` rows of `data` (``rowsWithGradient(in:count:specification:)``): the rule as
    /// `specification` sets it (its nudge and second phase) from the free fixed point, against
    /// implicit differentiation at that fixed point (Hopfield energy) or backprop through the
    /// feed-forward network (predictive-coding energy). The trainer's own state and generator are
    /// not touched. The comparison is `nil` when the theorem does not apply at that fixed point
    /// (the report's hypotheses say why).
    public func alignment(specification: LearningSpecification, on data: ClassificationData<Float>, examples: Int) throws -> GradientCheck.Report {
        precondition(examples > 0 && data.count > 0, "at least one example")
        var double: Trainer<Double> = try specification.makeTrainer(trainingCount: 0)
        double.energy.parameters = energy.parameters.map { $0.map { $0.converted(to: Double.self) } }
        let rows = try rowsWithGradient(in: data, count: examples, specification: specification)
        let input = data.inputs.gatheringRows(rows).converted(to: Double.self)
        let target = data.targets.gatheringRows(rows).converted(to: Double.self)
        let feedForward = specification.energy.hasFeedForwardFreePhase
        let start = feedForward ? try Backpropagation.feedForward(double.energy, input: input) : NetworkState(input: input, layerSizes: double.energy.layerSizes)
        var check = GradientCheck(energy: double.energy, input: input, target: target, initialState: start,
                                  dynamics: Self.referenceRelaxation(specification, tolerance: 1e-13))
        check.cost = double.cost
        return try check.report(double.rule, reference: feedForward ? .backpropagation : .implicitDifferentiation)
    }

    /// The run's own minimiser run to `tolerance` (at most 50,000 steps): methods may settle in
    /// different minima, and the comparison is made at the one the run reaches.
    static func referenceRelaxation<S: BLASScalar>(_ specification: LearningSpecification, tolerance: Double) -> any Dynamics<S> {
        var reference = specification.dynamics
        (reference.freeSteps, reference.tolerance, reference.stableSteps) = (50_000, tolerance, false)
        return reference.makeFreePhase(energy: specification.energy, layerStepScales: specification.layerStepScales(), parallelBlocks: 1)
    }

    /// The first `count` rows of `data`, among its first 1,000, whose output at the free fixed point
    /// (relaxed from zero by the run's minimiser to 10⁻⁵, as the comparison relaxes them further) is not
    /// entirely at the bounds of its box: where every output unit sits on a bound (a trained network's
    /// confident answers, under the hard sigmoid) the loss does not change with the parameters, the
    /// exact gradient is zero and a cosine is undefined. Fewer rows when fewer qualify; the first
    /// `count` rows when the output is unbounded or none qualifies.
    public func rowsWithGradient(in data: ClassificationData<Float>, count: Int, specification: LearningSpecification) throws -> [Int] {
        let first = Array(0..<Swift.min(count, data.count))
        guard let box = energy.stateBounds[energy.layerSizes.count - 1] else { return first }
        let relaxation: any Dynamics<Float> = Self.referenceRelaxation(specification, tolerance: 1e-5)
        var informative: [Int] = []
        var generator = SeededGenerator(seed: 0)
        // In blocks of 100, so that a network whose first examples qualify is not relaxed on 1,000.
        for start in stride(from: 0, to: Swift.min(1000, data.count), by: 100) where informative.count < count {
            let block = start..<Swift.min(start + 100, data.count)
            var state = NetworkState(input: data.inputs.rows(block), layerSizes: energy.layerSizes)
            try relaxation.relax(&state, under: ClampedEnergy(energy, clamping: [0], at: state), using: &generator)
            let output = state.output
            informative += block.filter { row in
                (0..<output.columns).contains { output[row - start, $0] > box.lowerBound && output[row - start, $0] < box.upperBound }
            }
        }
        return informative.isEmpty ? first : Array(informative.prefix(count))
    }
}
