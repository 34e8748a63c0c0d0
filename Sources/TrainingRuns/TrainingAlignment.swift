import EnergyBasedLearning
import LinearAlgebra

extension Trainer where Scalar == Float {
    /// How well the rule's update for the current parameters points along the exact gradient
    /// `dL/dθ`, measured in Double on the first `examples` rows of `data`: the rule as
    /// `specification` sets it (its nudge and second phase) from the free fixed point, against
    /// implicit differentiation at that fixed point (Hopfield energy) or backprop through the
    /// feed-forward network (predictive-coding energy). The trainer's own state and generator are
    /// not touched. The comparison is `nil` when the theorem does not apply at that fixed point
    /// (the report's hypotheses say why).
    public func alignment(specification: LearningSpecification, on data: ClassificationData<Float>, examples: Int) throws -> GradientCheck.Report {
        precondition(examples > 0 && data.count > 0, "at least one example")
        var double: Trainer<Double> = try specification.makeTrainer(trainingCount: 0)
        double.energy.parameters = energy.parameters.map { $0.map { $0.converted(to: Double.self) } }
        let rows = Array(0..<Swift.min(examples, data.count))
        let input = data.inputs.gatheringRows(rows).converted(to: Double.self)
        let target = data.targets.gatheringRows(rows).converted(to: Double.self)
        let feedForward = specification.energy.hasFeedForwardFreePhase
        let start = feedForward ? try Backpropagation.feedForward(double.energy, input: input) : NetworkState(input: input, layerSizes: double.energy.layerSizes)
        // The run's own minimiser, relaxed to 1e-13: methods may settle in different minima, and the
        // comparison is made at the one the run reaches.
        var reference = specification.dynamics
        (reference.freeSteps, reference.tolerance, reference.stableSteps) = (50_000, 1e-13, false)
        var check = GradientCheck(energy: double.energy, input: input, target: target, initialState: start,
                                  dynamics: reference.makeFreePhase(energy: specification.energy, layerStepScales: specification.layerStepScales(), parallelBlocks: 1))
        check.cost = double.cost
        return try check.report(double.rule, reference: feedForward ? .backpropagation : .implicitDifferentiation)
    }
}
