import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing

/// The rules of the comparative study of Scellier, Ernoult, Kendall & Kumar (2023) that EqProp adds
/// to EP and CHL: coupled learning (PCpL, NCpL, CCpL), truncated backprop (TBP) and recurrent
/// backprop (RBP). NEP is EP's negative nudging (GradientTests).
@Suite("The comparative study's rules")
struct ComparativeStudyTests {
    let check = GradientCheck(layerSizes: [12, 10, 8, 4], batchSize: 5, seed: 1)

    func estimate(_ rule: some LearningRule<Double>, free: NetworkState<Double>? = nil, target: Matrix<Double>? = nil,
                  on check: GradientCheck? = nil) throws -> [[Matrix<Double>]] {
        let check = check ?? self.check
        let (clamped, fixedPoint) = try check.freeEquilibrium()
        var generator = SeededGenerator(seed: 0)
        return try rule.estimate(energy: clamped, freeState: free ?? fixedPoint, target: target ?? check.target, using: &generator).gradient(of: check.energy)
    }

    func relativeDifference(_ a: [[Matrix<Double>]], _ b: [[Matrix<Double>]]) -> Double {
        GradientComparison(estimate: a, reference: b, names: check.energy.terms.map(\.name)).relativeError
    }

    @Test("Coupled learning with a full step (β = 1) clamps the output at the target: it is contrastive Hebbian learning")
    func fullStepIsCHL() throws {
        let coupled = try estimate(CoupledLearning(beta: 1, dynamics: check.dynamics))
        let chl = try estimate(OutputClamping<Double>.contrastiveHebbian(dynamics: check.dynamics))
        #expect(relativeDifference(coupled, chl) < 1e-12)
    }

    @Test("Coupled learning's update vanishes when the target is the free output, under every nudging", arguments: Nudging.allCases)
    func vanishesAtTheTarget(nudging: Nudging) throws {
        let (_, free) = try check.freeEquilibrium()
        let update = try estimate(CoupledLearning(beta: 0.1, nudging: nudging, dynamics: check.dynamics), target: free.output)
        #expect(update.allSatisfy { $0.allSatisfy { $0.elements.allSatisfy { abs($0) < 1e-10 } } })
    }

    @Test("Centered coupled learning is the mean of its positive and negative variants, and points downhill")
    func centeredCoupledLearning() throws {
        let (positive, negative, centered) = (try estimate(CoupledLearning(beta: 0.01, nudging: .positive, dynamics: check.dynamics)),
                                              try estimate(CoupledLearning(beta: 0.01, nudging: .negative, dynamics: check.dynamics)),
                                              try estimate(CoupledLearning(beta: 0.01, nudging: .centered, dynamics: check.dynamics)))
        for (t, parameters) in centered.enumerated() {
            for (p, matrix) in parameters.enumerated() {
                var mean = positive[t][p] + negative[t][p]
                mean.scale(by: 0.5)
                #expect(maxAbsDifference(mean, matrix) < 1e-12)
            }
        }
        let comparison = try check.compare(CoupledLearning(beta: 0.01, nudging: .centered, dynamics: check.dynamics))
        #expect(comparison.cosine > 0, "coupled learning descends the loss here: cosine \(comparison.cosine)")
    }

    @Test("TBP through K steps after a free phase of T steps is BPTT through the last K of T + K steps")
    func truncatedIsBPTT() throws {
        let initial = NetworkState(input: check.input, layerSizes: check.energy.layerSizes)
        let clamped = ClampedEnergy(check.energy, clamping: [0], at: initial)
        var free = initial
        var generator = SeededGenerator(seed: 0)
        try ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 6).relax(&free, under: clamped, using: &generator)
        let tbp = try TruncatedBackpropagation(dynamics: ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 4))
            .estimate(energy: clamped, freeState: free, target: check.target, using: &generator).gradients
        let bptt = try BackpropagationThroughTime(dynamics: ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 10))
            .gradients(energy: clamped, from: initial, target: check.target, truncation: 4).total()
        #expect(relativeDifference(tbp, bptt) < 1e-12)
    }

    @Test("TBP through all the steps from the start is the exact gradient of the loss after them (finite differences)")
    func truncatedIsExact() throws {
        var generator = SeededGenerator(seed: 3)
        var start = NetworkState(input: check.input, layerSizes: check.energy.layerSizes)
        for k in 1..<start.layers.count {
            start.layers[k] = .uniform(rows: check.input.rows, columns: check.energy.layerSizes[k], in: 0.1...0.9, using: &generator)
        }
        let dynamics = ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 12)
        func loss(_ energy: LayeredEnergy<Double>) throws -> Double {
            var state = start
            var generator = SeededGenerator(seed: 0)
            try dynamics.relax(&state, under: ClampedEnergy(energy, clamping: [0], at: start), using: &generator)
            return SquaredError<Double>().cost(output: state.output, target: check.target)
        }
        let tbp = try TruncatedBackpropagation(dynamics: dynamics)
            .estimate(energy: ClampedEnergy(check.energy, clamping: [0], at: start), freeState: start, target: check.target, using: &generator).gradients
        var checked = 0
        for (t, parameters) in check.energy.parameters.enumerated() {
            for (p, parameter) in parameters.enumerated() {
                for i in stride(from: 0, to: parameter.count, by: max(1, parameter.count / 5)) {
                    let numeric = try centralDifference(of: loss, energy: check.energy, term: t, parameter: p, index: i, step: 1e-6)
                    #expect(abs(numeric - tbp[t][p].elements[i]) < 1e-8 + 1e-5 * abs(numeric), "\(check.energy.terms[t].name)[\(i)]")
                    checked += 1
                }
            }
        }
        #expect(checked > 30)
    }

    /// The free phase by gradient descent (the check's), or by the exact block minimiser, whose
    /// fixed point is one of gradient descent too: K steps from it stay there.
    @Test("RBP tends to implicit differentiation as its iterations grow, and equals TBP from an exact fixed point, reached by either minimizer",
          arguments: [false, true])
    func recurrentIsImplicit(exactBlockFreePhase: Bool) throws {
        var check = self.check
        if exactBlockFreePhase { check.dynamics = ExactBlockDescent(steps: 200_000, tolerance: 1e-14, overrelaxation: 1.5) }
        let exact = try check.exactGradient()
        let errors = try [5, 20, 80, 2000].map { iterations in
            relativeDifference(try estimate(RecurrentBackpropagation(dynamics: ProjectedGradientDescent<Double>(stepSize: 0.5, steps: iterations)), on: check), exact)
        }
        #expect(errors == errors.sorted(by: >), "\(errors)")
        #expect(errors.last! < 1e-8, "\(errors)")
        let rbp = try estimate(RecurrentBackpropagation(dynamics: ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 30)), on: check)
        let tbp = try estimate(TruncatedBackpropagation(dynamics: ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 30)), on: check)
        #expect(relativeDifference(rbp, tbp) < 1e-9)
    }

    @Test("RBP reports an adjoint that diverges instead of returning NaN")
    func recurrentDiverges() throws {
        let rule = RecurrentBackpropagation(dynamics: ProjectedGradientDescent<Double>(stepSize: 40, steps: 400))
        #expect(throws: RecurrentBackpropagation<Double>.Failure.adjointNotFinite(iterations: 400)) { _ = try estimate(rule) }
    }
}
