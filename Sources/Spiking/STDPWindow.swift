import Foundation

/// The measured STDP window: the mean weight change per spike pair as a function of
/// `Δt = t_post − t_pre`, from spikes and from the rate rule, with exponential fits of each side.
public struct STDPWindow: Sendable {
    public struct Point: Sendable, Equatable {
        /// `Δt = t_post − t_pre` in milliseconds.
        public var timeDifference: Double
        /// The spike-based rule's mean `Δw` per pair (`nan` when no pair was seen).
        public var spikeEstimate: Double
        /// Its batch-means standard error over blocks of trials.
        public var standardError: Double
        /// The rate rule's prediction for the same protocol and trajectories.
        public var rateRule: Double
        /// How many spike pairs were collected at this `Δt`.
        public var pairs: Int
    }

    public let experiment: PairingExperiment
    public let points: [Point]

    init(experiment: PairingExperiment, blocks: [BlockTotals]) {
        self.experiment = experiment
        let lags = experiment.lags
        func total(_ values: KeyPath<BlockTotals, [Double]>, _ bin: Int) -> Double { blocks.reduce(0) { $0 + $1[keyPath: values][bin] } }
        points = (0...(2 * lags)).map { bin in
            let pairs = total(\.pairs, bin)
            let estimate = pairs > 0 ? total(\.spikeChange, bin) / pairs : .nan
            let blockEstimates = blocks.filter { $0.pairs[bin] > 0 }.map { $0.spikeChange[bin] / $0.pairs[bin] }
            var standardError = Double.nan
            if blockEstimates.count > 1 {
                let mean = blockEstimates.reduce(0, +) / Double(blockEstimates.count)
                let variance = blockEstimates.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(blockEstimates.count - 1)
                standardError = (variance / Double(blockEstimates.count)).squareRoot()
            }
            return Point(timeDifference: Double(bin - lags) * experiment.timeStep, spikeEstimate: estimate,
                         standardError: standardError, rateRule: total(\.rateChange, bin) / total(\.rateWeight, bin),
                         pairs: Int(pairs))
        }
    }

    /// `Δw ≈ A₊·exp(−Δt/τ₊)` fitted to `Δt > 0` and `Δw ≈ −A₋·exp(Δt/τ₋)` to `Δt < 0` (least
    /// squares), for the spike estimate (`fromSpikes`) or the rate rule.
    public func fit(fromSpikes: Bool) -> (potentiation: ExponentialDecay, depression: ExponentialDecay) {
        let values = points.map { (dt: $0.timeDifference, dw: fromSpikes ? $0.spikeEstimate : $0.rateRule) }
            .filter { $0.dw.isFinite }
        let upper = experiment.window * 10
        return (ExponentialDecay(fitting: values.filter { $0.dt > 0 }.map { ($0.dt, $0.dw) }, longestTimeConstant: upper),
                ExponentialDecay(fitting: values.filter { $0.dt < 0 }.map { (-$0.dt, -$0.dw) }, longestTimeConstant: upper))
    }
}

/// `y = A·exp(−x/τ)` for `x ≥ 0`.
public struct ExponentialDecay: Sendable, Equatable {
    public var amplitude: Double
    public var timeConstant: Double

    public init(amplitude: Double, timeConstant: Double) {
        self.amplitude = amplitude
        self.timeConstant = timeConstant
    }

    public func callAsFunction(_ x: Double) -> Double { amplitude * exp(-x / timeConstant) }

    /// The least-squares fit to `points`. For a fixed `τ` the best `A` is `Σy·e/Σe²` with
    /// `e = exp(−x/τ)`; `τ` minimises the remaining residual, searched on a log grid over
    /// `[x_min/100, longestTimeConstant]` and refined by golden-section search.
    public init(fitting points: [(x: Double, y: Double)], longestTimeConstant: Double) {
        func amplitude(_ tau: Double) -> (amplitude: Double, residual: Double) {
            var ye = 0.0, ee = 0.0, yy = 0.0
            for (x, y) in points {
                let e = exp(-x / tau)
                ye += y * e
                ee += e * e
                yy += y * y
            }
            return ee > 0 ? (ye / ee, yy - ye * ye / ee) : (0, yy)
        }
        let shortest = Swift.max((points.map(\.x).min() ?? 1) / 100, 1e-6)
        let grid = (0...200).map { shortest * pow(longestTimeConstant / shortest, Double($0) / 200) }
        let best = grid.indices.min { amplitude(grid[$0]).residual < amplitude(grid[$1]).residual } ?? 0
        var low = log(grid[Swift.max(best - 1, 0)]), high = log(grid[Swift.min(best + 1, grid.count - 1)])
        let ratio = (5.0.squareRoot() - 1) / 2
        for _ in 0..<60 {
            let a = high - ratio * (high - low), b = low + ratio * (high - low)
            if amplitude(exp(a)).residual < amplitude(exp(b)).residual { high = b } else { low = a }
        }
        timeConstant = exp((low + high) / 2)
        self.amplitude = amplitude(timeConstant).amplitude
    }
}
