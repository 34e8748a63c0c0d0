import ArgumentParser
import Foundation
import LinearAlgebra
import Plotting
import Spiking

struct STDP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stdp",
        abstract: "Measure the STDP window of the spike-based STDP-compatible rule (Bengio et al. 2017).",
        discussion: """
            Two Poisson neurons fire at rate r_max·ρ(s), their potentials following Langevin dynamics on the Hopfield \
            energy. Each presynaptic spike changes the weight by the change of the postsynaptic rate over the next time \
            step; every spike pair with |Δt| ≤ the window is one repetition of the pairing protocol, and the window is the \
            mean change per pair at each Δt = t_post − t_pre. The rate rule's prediction for the same trajectories is \
            reported beside it, and each side is fitted by an exponential.
            """)

    @Option(name: .customLong("dt-ms"), parsing: .unconditional, help: "Time step in ms.") var timeStep: Double = 1
    @Option(name: .customLong("tau-ms"), parsing: .unconditional, help: "Membrane time constant τ_m in ms.") var membraneTimeConstant: Double = 20
    @Option(parsing: .unconditional, help: "Langevin noise level σ.") var sigma: Double = 0.2
    @Option(parsing: .unconditional, help: "Presynaptic maximal rate in Hz.") var preRate: Double = 100
    @Option(parsing: .unconditional, help: "Postsynaptic maximal rate in Hz.") var postRate: Double = 100
    @Option(parsing: .unconditional, help: "Synaptic weight w between the two neurons.") var coupling: Double = 0
    @Option(parsing: .unconditional, help: "Presynaptic bias (mean potential).") var preBias: Double = 0.5
    @Option(parsing: .unconditional, help: "Postsynaptic bias (mean potential).") var postBias: Double = 0.5
    @Option(name: .customLong("duration-ms"), parsing: .unconditional, help: "Recorded length of each trial in ms.") var duration: Double = 1000
    @Option(parsing: .unconditional, help: "Independent trials.") var trials: Int = 50_000
    @Option(name: .customLong("window-ms"), parsing: .unconditional, help: "Largest |Δt| in ms.") var window: Double = 100
    @Option(parsing: .unconditional) var seed: UInt64 = 1
    @Option(help: "Write the window as CSV to this file.") var csv: String?
    @Option(help: "Write an SVG plot of the window to this file.") var svg: String?
    @Flag(help: "Print the window and fits as JSON.") var json = false

    func run() throws {
        let experiment = PairingExperiment(
            neurons: NeuronPair(coupling: coupling, preBias: preBias, postBias: postBias,
                                membraneTimeConstant: membraneTimeConstant, noise: sigma),
            timeStep: timeStep, preMaximalRate: preRate, postMaximalRate: postRate, trialDuration: duration,
            trials: trials, window: window, seed: seed)
        do {
            try experiment.validate()
        } catch let error as SpikingError {
            throw ValidationError(error.description)
        }
        let watch = Stopwatch()
        let result = try experiment.run()
        let seconds = watch.seconds
        let spikeFit = result.fit(fromSpikes: true), rateFit = result.fit(fromSpikes: false)
        if let csv {
            var text = "dt_ms,dw,dw_stderr,dw_rate,pairs\n"
            for point in result.points {
                text += "\(point.timeDifference),\(point.spikeEstimate),\(point.standardError),\(point.rateRule),\(point.pairs)\n"
            }
            try writeOutput(Data(text.utf8), to: csv, flag: "--csv")
        }
        if let svg {
            try writeOutput(Data(plot(result, spikeFit: spikeFit).svg().utf8), to: svg, flag: "--svg")
        }
        let report = STDPReport(result: result, spikeFit: spikeFit, rateFit: rateFit, seconds: seconds)
        if json {
            try printJSON(report)
        } else {
            let pairs = result.points.reduce(0) { $0 + $1.pairs }
            print("""
                \(trials) trials × \(duration) ms, dt \(timeStep) ms, τ_m \(membraneTimeConstant) ms, σ \(sigma): \
                \(pairs) spike pairs with |Δt| ≤ \(window) ms, \(String(format: "%.1f", seconds)) s
                spikes:    potentiation A₊ \(format(spikeFit.potentiation.amplitude)), τ₊ \(String(format: "%.1f", spikeFit.potentiation.timeConstant)) ms; \
                depression A₋ \(format(spikeFit.depression.amplitude)), τ₋ \(String(format: "%.1f", spikeFit.depression.timeConstant)) ms
                rate rule: potentiation A₊ \(format(rateFit.potentiation.amplitude)), τ₊ \(String(format: "%.1f", rateFit.potentiation.timeConstant)) ms; \
                depression A₋ \(format(rateFit.depression.amplitude)), τ₋ \(String(format: "%.1f", rateFit.depression.timeConstant)) ms
                """)
        }
    }

    private func format(_ value: Double) -> String { String(format: "%.3e", value) }

    private func plot(_ result: STDPWindow, spikeFit: (potentiation: ExponentialDecay, depression: ExponentialDecay)) -> LinePlot {
        let points = result.points
        let fitted = points.map { point in
            (x: point.timeDifference, y: point.timeDifference > 0 ? spikeFit.potentiation(point.timeDifference)
                : point.timeDifference < 0 ? -spikeFit.depression(-point.timeDifference) : .nan)
        }
        return LinePlot(
            title: "STDP window of the spike-based rule (τ₊ \(String(format: "%.1f", spikeFit.potentiation.timeConstant)) ms, "
                + "τ₋ \(String(format: "%.1f", spikeFit.depression.timeConstant)) ms)",
            xLabel: "Δt = t_post − t_pre (ms)", yLabel: "mean Δw per spike pair",
            series: [
                .init(name: "spiking simulation", points: points.map { ($0.timeDifference, $0.spikeEstimate) }, style: .markers),
                .init(name: "rate rule ρ_pre·dρ_post/dt", points: points.map { ($0.timeDifference, $0.rateRule) }),
                .init(name: "exponential fits", points: fitted),
            ])
    }
}

struct STDPReport: Encodable {
    struct Point: Encodable {
        var dtMs: Double
        var dw: Double?
        var dwStderr: Double?
        var dwRate: Double?
        var pairs: Int
        enum CodingKeys: String, CodingKey { case dtMs = "dt_ms", dw, dwStderr = "dw_stderr", dwRate = "dw_rate", pairs }
    }
    struct Fit: Encodable {
        var amplitude: Double
        var tauMs: Double
        enum CodingKeys: String, CodingKey { case amplitude, tauMs = "tau_ms" }
        init(_ decay: ExponentialDecay) {
            amplitude = decay.amplitude
            tauMs = decay.timeConstant
        }
    }
    struct Fits: Encodable {
        var potentiation: Fit
        var depression: Fit
    }
    var window: [Point]
    var fit: Fits
    var rateFit: Fits
    var parameters: PairingExperiment
    var seconds: Double

    enum CodingKeys: String, CodingKey { case window, fit, rateFit = "rate_fit", parameters, seconds }

    init(result: STDPWindow, spikeFit: (potentiation: ExponentialDecay, depression: ExponentialDecay),
         rateFit: (potentiation: ExponentialDecay, depression: ExponentialDecay), seconds: Double) {
        func finite(_ value: Double) -> Double? { value.isFinite ? value : nil }
        window = result.points.map {
            Point(dtMs: $0.timeDifference, dw: finite($0.spikeEstimate), dwStderr: finite($0.standardError),
                  dwRate: finite($0.rateRule), pairs: $0.pairs)
        }
        fit = Fits(potentiation: Fit(spikeFit.potentiation), depression: Fit(spikeFit.depression))
        self.rateFit = Fits(potentiation: Fit(rateFit.potentiation), depression: Fit(rateFit.depression))
        parameters = result.experiment
        self.seconds = seconds
    }
}
