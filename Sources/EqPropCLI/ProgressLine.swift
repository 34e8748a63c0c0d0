import EnergyBasedLearning
import Foundation

/// What the progress display shows within an epoch: samples/s, the epoch's ETA and the running error.
struct ProgressLine {
    var epoch: Int
    var epochs: Int
    var progress: Trainer<Float>.Progress
    var elapsed: Double

    private var fraction: Double { Double(progress.examplesSeen) / Double(max(progress.examples, 1)) }
    private var rate: Double { Double(progress.examplesSeen) / max(elapsed, 1e-9) }
    private var remaining: Double { Double(progress.examples - progress.examplesSeen) / max(rate, 1e-9) }
    private var details: String {
        "\(progress.examplesSeen)/\(progress.examples), \(Int(rate)) samples/s, ETA \(String(format: "%.0f", remaining)) s, error \(percent(progress.runningError))"
    }

    /// `epoch 3/20 [#########...........] 45% 27000/60000, …`.
    var bar: String {
        let width = 24, filled = Int((fraction * Double(width)).rounded(.down))
        return "epoch \(epoch)/\(epochs) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] "
            + "\(Int(fraction * 100))% \(details)"
    }

    var plain: String { "  epoch \(epoch)/\(epochs): \(details)" }
}
