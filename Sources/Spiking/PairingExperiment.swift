import Dispatch
import Foundation
import LinearAlgebra

/// The spike-pairing protocol of STDP experiments (Bi & Poo 1998), run on the spike-based form of
/// the STDP-compatible rule of Bengio et al. (2017):
///
/// `Δw ∝ S_pre(t) · (ρ(s_post(t + dt)) − ρ(s_post(t)))`   (a presynaptic spike × the change of the
/// postsynaptic rate over the step that follows it),
///
/// where both neurons spike as Poisson processes of rate `r_max·ρ(s)` driven by the Langevin
/// dynamics of ``NeuronPair``.
///
/// A Poisson neuron's spike is a sample of its rate, not a cause of its potential, so pairs at a
/// given `Δt = t_post − t_pre` are not imposed but collected: every (presynaptic, postsynaptic)
/// spike pair of every trial with `|Δt| ≤ window` is a repetition, and the window is the mean
/// weight change of the presynaptic spike over the pairs at each `Δt`.
///
/// The rate rule `dw ∝ ρ(s_pre)·dρ(s_post)/dt` predicts the same protocol from the same
/// trajectories without spikes: because spike counts are independent Poisson given the rates,
/// the spike estimate converges to
///
/// `Δw_rate(Δt) = Σ_t ρ_pre(t)·Δρ_post(t)·ρ_post(t + Δt) / Σ_t ρ_pre(t)·ρ_post(t + Δt)`.
public struct PairingExperiment: Sendable, Codable, Equatable {
    public var neurons: NeuronPair
    /// `dt` in milliseconds.
    public var timeStep: Double
    /// Maximal firing rates in hertz: a neuron fires at `r_max·ρ(s)`.
    public var preMaximalRate: Double
    public var postMaximalRate: Double
    /// Recorded length of each trial, in milliseconds.
    public var trialDuration: Double
    public var trials: Int
    /// The largest `|Δt|` measured, in milliseconds.
    public var window: Double
    public var seed: UInt64

    enum CodingKeys: String, CodingKey {
        case neurons, timeStep = "dt_ms", preMaximalRate = "pre_rate_hz", postMaximalRate = "post_rate_hz"
        case trialDuration = "duration_ms", trials, window = "window_ms", seed
    }

    public init(neurons: NeuronPair = NeuronPair(), timeStep: Double = 1, preMaximalRate: Double = 100,
                postMaximalRate: Double = 100, trialDuration: Double = 1000, trials: Int = 50_000,
                window: Double = 100, seed: UInt64 = 1) {
        self.neurons = neurons
        self.timeStep = timeStep
        self.preMaximalRate = preMaximalRate
        self.postMaximalRate = postMaximalRate
        self.trialDuration = trialDuration
        self.trials = trials
        self.window = window
        self.seed = seed
    }

    /// Trials simulated together (one batch of the dynamics); blocks run in parallel and give the
    /// batch-means standard error.
    static let trialsPerBlock = 500

    var steps: Int { Int((trialDuration / timeStep).rounded()) }
    var lags: Int { Int((window / timeStep + 1e-9).rounded(.down)) }

    /// Throws ``SpikingError`` naming the first impossible setting (by its `eqprop stdp` flag).
    public func validate() throws {
        func require(_ condition: Bool, _ flag: String, _ expected: String, _ value: Double) throws {
            if !condition { throw SpikingError(flag: flag, expected: expected, value: value) }
        }
        try require(timeStep > 0 && timeStep.isFinite, "dt-ms", "a positive time step in ms", timeStep)
        try require(neurons.membraneTimeConstant.isFinite && neurons.membraneTimeConstant >= timeStep, "tau-ms",
                    "a membrane time constant of at least the time step (\(timeStep) ms)", neurons.membraneTimeConstant)
        try require(neurons.noise >= 0 && neurons.noise.isFinite, "sigma", "a finite noise level σ ≥ 0", neurons.noise)
        try require(preMaximalRate > 0 && preMaximalRate.isFinite, "pre-rate", "a positive rate in Hz", preMaximalRate)
        try require(postMaximalRate > 0 && postMaximalRate.isFinite, "post-rate", "a positive rate in Hz", postMaximalRate)
        try require(neurons.coupling.isFinite, "coupling", "a finite weight", neurons.coupling)
        try require(neurons.preBias.isFinite, "pre-bias", "a finite bias", neurons.preBias)
        try require(neurons.postBias.isFinite, "post-bias", "a finite bias", neurons.postBias)
        try require(trialDuration.isFinite && trialDuration >= 2 * timeStep, "duration-ms",
                    "a trial of at least two time steps", trialDuration)
        try require(trials >= 2, "trials", "at least 2 trials", Double(trials))
        try require(window.isFinite && window >= timeStep, "window-ms", "a window of at least one time step (\(timeStep) ms)", window)
        try require(window < trialDuration, "window-ms",
                    "|Δt| inside the simulated trial (shorter than --duration-ms \(trialDuration))", window)
    }

    /// Runs the protocol; the result depends only on the settings (seed included), not on the
    /// number of threads.
    public func run() throws -> STDPWindow {
        try validate()
        let blockCount = (trials + Self.trialsPerBlock - 1) / Self.trialsPerBlock
        let totals = BlockTotals.Slots(count: blockCount)
        let warmUp = Int((5 * neurons.membraneTimeConstant / timeStep).rounded(.up))
        DispatchQueue.concurrentPerform(iterations: blockCount) { block in
            totals[block] = Result {
                let count = Swift.min(Self.trialsPerBlock, trials - block * Self.trialsPerBlock)
                var generator = SeededGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(block + 1))
                let rates = try neurons.simulate(trials: count, steps: steps, timeStep: timeStep, warmUpSteps: warmUp,
                                                 using: &generator)
                return BlockTotals(rates: rates, lags: lags,
                                   preMean: preMaximalRate * timeStep / 1000, postMean: postMaximalRate * timeStep / 1000,
                                   using: &generator)
            }
        }
        let blocks = try (0..<blockCount).map { try totals[$0]!.get() }
        return STDPWindow(experiment: self, blocks: blocks)
    }
}

/// An impossible setting of the pairing experiment, named by its `eqprop stdp` flag.
public struct SpikingError: Error, Equatable, CustomStringConvertible {
    public var flag: String
    public var expected: String
    public var value: Double

    public var description: String { "--\(flag): expected \(expected), got \(value)" }
}

/// Per-lag sums over one block of trials (index `lag + L` for `Δt = lag·dt`, `|lag| ≤ L`).
struct BlockTotals: Sendable {
    /// Σ over spike pairs of the presynaptic spike's `Δρ_post`.
    var spikeChange: [Double]
    var pairs: [Double]
    /// Σ_t ρ_pre(t)·Δρ_post(t)·ρ_post(t + lag) and Σ_t ρ_pre(t)·ρ_post(t + lag).
    var rateChange: [Double]
    var rateWeight: [Double]

    init<G: RandomNumberGenerator>(rates: RateTrajectories, lags: Int, preMean: Double, postMean: Double, using generator: inout G) {
        let bins = 2 * lags + 1
        spikeChange = Array(repeating: 0, count: bins)
        pairs = spikeChange
        rateChange = spikeChange
        rateWeight = spikeChange
        let steps = rates.length - 1
        var preSpikes = [Int](repeating: 0, count: steps), postSpikes = preSpikes
        var drive = [Double](repeating: 0, count: steps)  // ρ_pre(t)·Δρ_post(t)
        rates.pre.withUnsafeBufferPointer { pre in
            rates.post.withUnsafeBufferPointer { post in
                for n in 0..<rates.trials {
                    let preRate = pre.baseAddress! + n * rates.length, postRate = post.baseAddress! + n * rates.length
                    for t in 0..<steps {
                        preSpikes[t] = Poisson.count(mean: preMean * preRate[t], using: &generator)
                        postSpikes[t] = Poisson.count(mean: postMean * postRate[t], using: &generator)
                        drive[t] = preRate[t] * (postRate[t + 1] - postRate[t])
                    }
                    for t in 0..<steps where preSpikes[t] > 0 {
                        let change = Double(preSpikes[t]) * (postRate[t + 1] - postRate[t])
                        for u in Swift.max(0, t - lags)...Swift.min(steps - 1, t + lags) where postSpikes[u] > 0 {
                            let count = Double(postSpikes[u])
                            spikeChange[u - t + lags] += change * count
                            pairs[u - t + lags] += Double(preSpikes[t]) * count
                        }
                    }
                    drive.withUnsafeBufferPointer { drive in
                        for lag in -lags...lags {
                            // t and t + lag both in 0..<steps.
                            let first = Swift.max(0, -lag), count = steps - abs(lag)
                            rateChange[lag + lags] += dot(drive.baseAddress! + first, postRate + first + lag, count)
                            rateWeight[lag + lags] += dot(preRate + first, postRate + first + lag, count)
                        }
                    }
                }
            }
        }
    }

    final class Slots: @unchecked Sendable {
        private var values: [Result<BlockTotals, Error>?]
        private let lock = NSLock()

        init(count: Int) { values = Array(repeating: nil, count: count) }

        subscript(index: Int) -> Result<BlockTotals, Error>? {
            get { lock.withLock { values[index] } }
            set { lock.withLock { values[index] = newValue } }
        }
    }
}

/// `Σ a[i]·b[i]` over `count` elements, vectorised.
private func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ count: Int) -> Double {
    var sum0 = SIMD8<Double>(), sum1 = SIMD8<Double>()
    var i = 0
    while i + 16 <= count {
        sum0 += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Double>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Double>.self)
        sum1 += UnsafeRawPointer(a + i + 8).loadUnaligned(as: SIMD8<Double>.self) * UnsafeRawPointer(b + i + 8).loadUnaligned(as: SIMD8<Double>.self)
        i += 16
    }
    var sum = (sum0 + sum1).sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}
