import Foundation
import LinearAlgebra
import Spiking
import Testing

@Suite("Spiking simulation and the STDP window")
struct SpikingTests {
    @Test("Poisson counts have the mean and variance λ", arguments: [0.05, 3.0, 40.0])
    func poissonMoments(mean: Double) {
        var generator = SeededGenerator(seed: 11)
        let draws = (0..<200_000).map { _ in Double(Poisson.count(mean: mean, using: &generator)) }
        let average = draws.reduce(0, +) / Double(draws.count)
        let variance = draws.reduce(0) { $0 + ($1 - average) * ($1 - average) } / Double(draws.count - 1)
        // Standard error of the mean: √(λ/n); of the variance: about λ·√(2/n) (plus a λ^{1/2} term).
        #expect(abs(average - mean) < 5 * (mean / Double(draws.count)).squareRoot(), "mean \(average)")
        #expect(abs(variance - mean) < 5 * (mean * (2.0 / Double(draws.count)).squareRoot() + (mean / Double(draws.count)).squareRoot()),
                "variance \(variance)")
    }

    @Test("The exponential fit recovers the amplitude and time constant of noiseless data")
    func exponentialFit() {
        let points = (1...100).map { (x: Double($0), y: 0.003 * exp(-Double($0) / 17)) }
        let fit = ExponentialDecay(fitting: points, longestTimeConstant: 1000)
        #expect(abs(fit.timeConstant - 17) < 1e-6)
        #expect(abs(fit.amplitude - 0.003) < 1e-9)
    }

    /// Without coupling and far from the box, each potential is the AR(1) process
    /// `s_{t+1} − b = φ(s_t − b) + σ√ε ξ`, `φ = 1 − ε`, of variance `v = σ²/(2 − ε)`, so the rate rule's
    /// window is `E[Δρ(t)·ρ(t+k)] / b = (C(k−1) − C(k))/b`: `vε/b·φ^{k−1}` for `k ≥ 1` and
    /// `−vε/b·φ^{−k}` for `k ≤ 0`, with time constant `−dt/ln φ`.
    @Test("The rate rule's window is the derivative of the postsynaptic rate's autocorrelation")
    func rateRuleMatchesTheory() throws {
        let sigma = 0.1, tau = 20.0, bias = 0.5
        let experiment = PairingExperiment(neurons: NeuronPair(postBias: bias, membraneTimeConstant: tau, noise: sigma),
                                           trials: 2000, window: 60, seed: 5)
        let window = try experiment.run()
        let epsilon = experiment.timeStep / tau, phi = 1 - epsilon
        let peak = sigma * sigma / (2 - epsilon) * epsilon / bias
        for point in window.points {
            let k = Int(point.timeDifference.rounded())
            let theory = k >= 1 ? peak * pow(phi, Double(k - 1)) : -peak * pow(phi, Double(-k))
            #expect(abs(point.rateRule - theory) < 0.05 * peak, "Δt = \(k) ms: \(point.rateRule) vs \(theory)")
        }
        let fit = window.fit(fromSpikes: false), exact = -experiment.timeStep / log(phi)
        #expect(abs(fit.potentiation.timeConstant / exact - 1) < 0.05, "τ₊ \(fit.potentiation.timeConstant) vs \(exact)")
        #expect(abs(fit.depression.timeConstant / exact - 1) < 0.05, "τ₋ \(fit.depression.timeConstant) vs \(exact)")
    }

    @Test("The spiking window has the STDP shape and converges to the rate rule's prediction")
    func spikesMatchRateRule() throws {
        let window = try PairingExperiment(trials: 20_000, seed: 3).run()
        let spikes = window.fit(fromSpikes: true), rates = window.fit(fromSpikes: false)
        // Potentiation when the presynaptic spike leads, depression when it lags, decaying over tens of ms.
        #expect(spikes.potentiation.amplitude > 0 && spikes.depression.amplitude > 0)
        for fit in [spikes.potentiation, spikes.depression, rates.potentiation, rates.depression] {
            #expect((10...40).contains(fit.timeConstant), "τ = \(fit.timeConstant) ms")
        }
        #expect(abs(spikes.potentiation.timeConstant / rates.potentiation.timeConstant - 1) < 0.15)
        #expect(abs(spikes.depression.timeConstant / rates.depression.timeConstant - 1) < 0.15)
        #expect(abs(spikes.potentiation.amplitude / rates.potentiation.amplitude - 1) < 0.15)
        #expect(abs(spikes.depression.amplitude / rates.depression.amplitude - 1) < 0.15)
        // Bin by bin, the spike estimate scatters around the prediction by its standard error.
        let within = window.points.filter { abs($0.spikeEstimate - $0.rateRule) < 3 * $0.standardError }.count
        #expect(Double(within) > 0.9 * Double(window.points.count), "\(within) of \(window.points.count) bins within 3 s.e.")
        #expect(window.points.allSatisfy { $0.pairs > 10_000 })
    }

    @Test("The experiment is seeded: the same seed gives the same window, another seed another")
    func seeded() throws {
        func points(seed: UInt64) throws -> [STDPWindow.Point] {
            try PairingExperiment(trialDuration: 200, trials: 1200, window: 20, seed: seed).run().points
        }
        #expect(try points(seed: 4) == points(seed: 4))
        #expect(try points(seed: 4) != points(seed: 5))
    }

    @Test("Impossible settings are refused with the flag that names them", arguments: [
        (PairingExperiment(neurons: NeuronPair(noise: -0.1)), "sigma"),
        (PairingExperiment(timeStep: 0), "dt-ms"),
        (PairingExperiment(timeStep: -1), "dt-ms"),
        (PairingExperiment(preMaximalRate: -5), "pre-rate"),
        (PairingExperiment(postMaximalRate: .nan), "post-rate"),
        (PairingExperiment(neurons: NeuronPair(membraneTimeConstant: 0.5)), "tau-ms"),
        (PairingExperiment(neurons: NeuronPair(coupling: .infinity)), "coupling"),
        (PairingExperiment(trialDuration: 100, window: 100), "window-ms"),
        (PairingExperiment(window: 0.5), "window-ms"),
        (PairingExperiment(trials: 1), "trials"),
    ])
    func badSettings(experiment: PairingExperiment, flag: String) {
        #expect(throws: SpikingError.self) { try experiment.run() }
        do {
            try experiment.validate()
        } catch let error as SpikingError {
            #expect(error.flag == flag, "\(error)")
            #expect(error.description.hasPrefix("--\(flag): expected"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
