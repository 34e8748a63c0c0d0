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

    /// With coupling `w` the pair is the linear Gaussian process `s_{t+1} = M s_t + c + σ√ε ξ`,
    /// `M = I − εA`, `A = [[1, −w], [−w, 1]]` (far from the box), of mean `μ = A⁻¹b` and stationary
    /// covariance `Σ = MΣMᵀ + σ²εI`, lag covariances `C(k) = M^k Σ`. Gaussian third moments vanish,
    /// so the rate rule's window is
    /// `(μ_pre·(C_yy(k−1) − C_yy(k)) + μ_post·(C(1) − C(0))_xy) / (μ_pre μ_post + C_xy(k))`:
    /// the postsynaptic autocorrelation now mixes the modes `τ_m/(1 ∓ w)`, and the pair rate in the
    /// denominator depends on Δt through the cross-covariance.
    @Test("With coupling, the rate rule's window is the linear Gaussian model's", arguments: [0.5, -0.5])
    func coupledRateRuleMatchesTheory(coupling w: Double) throws {
        let sigma = 0.1, tau = 20.0, bias = 0.5 * (1 - w)   // the mean potential stays 0.5
        let experiment = PairingExperiment(
            neurons: NeuronPair(coupling: w, preBias: bias, postBias: bias, membraneTimeConstant: tau, noise: sigma),
            trials: 2000, window: 60, seed: 5)
        let window = try experiment.run()
        let epsilon = experiment.timeStep / tau
        typealias Matrix2 = (a: Double, b: Double, c: Double, d: Double)   // [[a, b], [c, d]]
        func product(_ x: Matrix2, _ y: Matrix2) -> Matrix2 {
            (x.a * y.a + x.b * y.c, x.a * y.b + x.b * y.d, x.c * y.a + x.d * y.c, x.c * y.b + x.d * y.d)
        }
        let m: Matrix2 = (1 - epsilon, epsilon * w, epsilon * w, 1 - epsilon)
        var covariance: Matrix2 = (0, 0, 0, 0)
        for _ in 0..<20_000 {
            let next = product(product(m, covariance), m)
            covariance = (next.a + sigma * sigma * epsilon, next.b, next.c, next.d + sigma * sigma * epsilon)
        }
        func lagged(_ k: Int) -> Matrix2 { (0..<abs(k)).reduce(covariance) { result, _ in product(m, result) } }
        let mean = bias / (1 - w)
        let offset = mean * (lagged(1).c - covariance.c)
        let values = window.points.map { point -> (measured: Double, theory: Double) in
            let k = Int(point.timeDifference.rounded())
            let numerator = mean * (lagged(k - 1).d - lagged(k).d) + offset
            return (point.rateRule, numerator / (mean * mean + lagged(k).c))
        }
        let peak = values.map { abs($0.theory) }.max()!
        for (point, value) in zip(window.points, values) {
            #expect(abs(value.measured - value.theory) < 0.05 * peak, "Δt = \(point.timeDifference) ms: \(value.measured) vs \(value.theory)")
        }
        // The slow mode lengthens the window beyond the uncoupled time constant.
        let fit = window.fit(fromSpikes: false), uncoupled = -experiment.timeStep / log(1 - epsilon)
        #expect(fit.potentiation.timeConstant > 1.1 * uncoupled && fit.depression.timeConstant > 1.1 * uncoupled, "\(fit)")
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
