import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing

/// Backprop, the reference of the predictive-coding family and of weak-feedback CHL, checked
/// directly against finite differences of the loss through the feed-forward pass.
@Suite("Backprop against finite differences")
struct BackpropagationTests {
    /// `Σ_params` checked, with a tolerance of `1e-7 + 1e-5·|g|`.
    func expectMatches(_ analytic: [[Matrix<Double>]], energy: LayeredEnergy<Double>, loss: (LayeredEnergy<Double>) throws -> Double) rethrows {
        var checked = 0
        for (t, parameters) in energy.parameters.enumerated() {
            for (p, parameter) in parameters.enumerated() {
                for i in stride(from: 0, to: parameter.count, by: max(1, parameter.count / 6)) {
                    let numeric = try centralDifference(of: loss, energy: energy, term: t, parameter: p, index: i, step: 1e-6)
                    #expect(abs(numeric - analytic[t][p].elements[i]) < 1e-7 + 1e-5 * abs(numeric), "\(energy.terms[t].name)[\(i)]")
                    checked += 1
                }
            }
        }
        #expect(checked > 20)
    }

    @Test("Backprop of the squared error and of the cross-entropy is the derivative of the loss after the feed-forward pass",
          arguments: [(Activation.tanh, Activation.identity), (.gelu, .sigmoid), (.sigmoid, .tanh)])
    func predictiveCoding(hidden: Activation, output: Activation) throws {
        let check = try GradientCheck.predictiveCoding(layerSizes: [7, 6, 5, 4], hidden: hidden, output: output, precisions: [1, 2, 0.5],
                                                       batchSize: 4, seed: 11)
        for cost in [SquaredError<Double>() as any Cost<Double>, CrossEntropy<Double>()] {
            let analytic = try Backpropagation(cost: cost).gradient(energy: check.energy, input: check.input, target: check.target)
            try expectMatches(analytic, energy: check.energy) { energy in
                cost.cost(output: try Backpropagation.feedForward(energy, input: check.input).output, target: check.target)
            }
        }
    }

    @Test("Backprop through a Hopfield energy's feed-forward limit is the derivative of the output activation's matching loss")
    func feedForwardLimit() throws {
        // Weights doubled so that some pre-activations fall outside [0, 1], where ρ is flat.
        var check = GradientCheck(layerSizes: [7, 6, 5, 4], batchSize: 4, seed: 3)
        check.energy.parameters = check.energy.parameters.map { $0.map { var m = $0; m.scale(by: 2); return m } }
        /// `M(a, d) = Σ ∫₀^a (ρ(t) − d) dt`, whose gradient in the output's pre-activation `a` is `ρ(a) − d`.
        func matchingLoss(_ energy: LayeredEnergy<Double>) throws -> Double {
            let (limit, _) = try FeedForwardChain.limit(of: energy)
            let chain = try FeedForwardChain(limit)
            var state = NetworkState(input: check.input, layerSizes: energy.layerSizes)
            for (_, term) in chain.links.dropLast() { state.layers[term.upper] = term.prediction(at: state).value }
            let last = chain.output.term as! PredictionError<Double>
            var preactivation = Matrix.product(state.layers[last.lower], last.weight)
            preactivation.addToEveryRow(last.bias)
            return zip(preactivation.elements, check.target.elements).reduce(0) { total, pair in
                let (a, d) = pair
                let integral = a < 0 ? 0 : a <= 1 ? a * a / 2 : a - 0.5
                return total + integral - d * a
            }
        }
        let analytic = try Backpropagation(matchingOutputLoss: true).gradient(ofFeedForwardLimit: check.energy, input: check.input, target: check.target)
        try expectMatches(analytic, energy: check.energy, loss: matchingLoss)
        // The limit's gradients land on the Hopfield energy's terms: weights and biases, nothing for the leaks.
        #expect(zip(analytic, check.energy.terms).allSatisfy { $0.count == $1.parameters.count })
    }
}
