import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing

@Suite("Backprop through time and the GDU property")
struct BPTTTests {
    let check = GradientCheck(layerSizes: [12, 10, 8, 4], batchSize: 5, seed: 1)

    /// The energy with its input clamped, and a start: zero, or with `interior`, every free unit
    /// drawn inside (0, 1) (from zero with zero biases, units sit exactly at the box's corner, where
    /// the loss has a kink and finite differences are meaningless).
    func clamped(_ energy: LayeredEnergy<Double>, interior: Bool = false) -> (ClampedEnergy<Double>, NetworkState<Double>) {
        var state = NetworkState(input: check.input, layerSizes: energy.layerSizes)
        if interior {
            var generator = SeededGenerator(seed: 3)
            for k in 1..<state.layers.count {
                state.layers[k] = .uniform(rows: check.input.rows, columns: energy.layerSizes[k], in: 0.1...0.9, using: &generator)
            }
        }
        return (ClampedEnergy(energy, clamping: [0], at: state), state)
    }

    @Test("BPTT equals the finite difference of the loss after T steps (free phase not converged)")
    func bpttIsExact() throws {
        let dynamics = ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 15)
        func loss(_ energy: LayeredEnergy<Double>) throws -> Double {
            let (clampedEnergy, start) = clamped(energy, interior: true)
            var state = start
            var generator = SeededGenerator(seed: 0)
            try dynamics.relax(&state, under: clampedEnergy, using: &generator)
            return SquaredError<Double>().cost(output: state.output, target: check.target)
        }
        let (energy, initial) = clamped(check.energy, interior: true)
        let gradients = try BackpropagationThroughTime(dynamics: dynamics).gradients(energy: energy, from: initial, target: check.target)
        #expect(gradients.parameterGradients.count == 15 && gradients.stateGradients.count == 16)
        let total = gradients.total()
        var checked = 0
        for (t, parameters) in check.energy.parameters.enumerated() {
            for (p, parameter) in parameters.enumerated() {
                for i in stride(from: 0, to: parameter.count, by: max(1, parameter.count / 5)) {
                    let numeric = try centralDifference(of: loss, energy: check.energy, term: t, parameter: p, index: i, step: 1e-6)
                    let analytic = total[t][p].elements[i]
                    #expect(abs(numeric - analytic) < 1e-8 + 1e-5 * abs(analytic), "\(check.energy.terms[t].name)[\(i)]: \(numeric) vs \(analytic)")
                    checked += 1
                }
            }
        }
        #expect(checked > 30)
    }

    @Test("Through a converged free phase, BPTT's total equals implicit differentiation")
    func bpttMatchesImplicitDifferentiation() throws {
        let (energy, initial) = clamped(check.energy)
        let gradients = try BackpropagationThroughTime(dynamics: ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 600))
            .gradients(energy: energy, from: initial, target: check.target)
        let comparison = GradientComparison(estimate: gradients.total(), reference: try check.exactGradient(),
                                            names: check.energy.terms.map(\.name))
        #expect(comparison.relativeError < 1e-8, "relative error \(comparison.relativeError)")

        let truncated = try BackpropagationThroughTime(dynamics: ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 600))
            .gradients(energy: energy, from: initial, target: check.target, truncation: 5)
        #expect(truncated.parameterGradients.count == 5 && truncated.stateGradients.count == 6)
        for k in 0..<5 {
            for (a, b) in zip(truncated.parameterGradients[k].joined(), gradients.parameterGradients[k].joined()) {
                #expect(maxAbsDifference(a, b) == 0, "step \(k + 1) back")
            }
        }
    }

    /// EP's step-by-step updates against minus BPTT's step-by-step gradients, for `K` steps.
    func gdu(beta: Double, steps: Int = 12) throws -> [GradientDescentUpdates<Double>.Step] {
        let (energy, initial) = clamped(check.energy)
        return try GradientDescentUpdates(dynamics: ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 600), beta: beta, nudgedSteps: steps)
            .compare(energy: energy, from: initial, target: check.target)
    }

    @Test("GDU: at small β every nudged step's EP update equals minus BPTT's gradient (cosine ≥ 0.999)")
    func gduCosine() throws {
        let names = check.energy.terms.map(\.name)
        for step in try gdu(beta: 1e-4) {
            let parameters = step.parameterComparison(names: names)
            let states = step.stateComparison(freeLayers: [1, 2, 3])
            #expect(parameters.cosine >= 0.999 && parameters.relativeError < 1e-2, "step \(step.step): parameters \(parameters.cosine), \(parameters.relativeError)")
            #expect(states.cosine >= 0.999 && states.relativeError < 1e-2, "step \(step.step): states \(states.cosine), \(states.relativeError)")
        }
    }

    @Test("GDU: the step-by-step error shrinks like β")
    func gduOrder() throws {
        let names = check.energy.terms.map(\.name)
        let order = try fittedOrder(nudges: [4e-3, 2e-3, 1e-3, 5e-4]) { beta in
            try gdu(beta: beta, steps: 6).map { $0.parameterComparison(names: names).relativeError }.max()!
        }
        #expect(abs(order - 1) < 0.1, "fitted order \(order)")
    }
}
