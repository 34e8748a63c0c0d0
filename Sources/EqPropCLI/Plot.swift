import ArgumentParser
import Foundation
import TrainingRuns
import Plotting

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the learning curves of a run folder (eqprop train --output DIR) as SVG: error, cost, energy and alignment with the exact gradient, per epoch; or, for several run folders, their errors side by side (the paper's Figure 3).")

    @Argument(help: ArgumentHelp("The run folder, or several to compare.", valueName: "dir")) var folders: [String]
    @Option(help: ArgumentHelp("Where to write the SVG (default: DIR/learning-curves.svg; with several folders, required).", valueName: "path"))
    var svg: String?
    @Option(help: ArgumentHelp("With several folders, the name of each run in the legend, comma-separated (default: the folders' names).",
                               valueName: "names"))
    var labels: String?
    @Option(help: ArgumentHelp("With several folders, leave out errors above this many percent, so that the first epochs do not set the scale (the panels' titles say so).",
                               valueName: "percent"))
    var maxError: Double?

    func validate() throws {
        guard !folders.isEmpty else { throw ValidationError("give a run folder (eqprop train --output DIR)") }
        if folders.count > 1 && svg == nil { throw ValidationError("--svg: several run folders are drawn into one file, which must be named") }
        if let maxError, !(maxError > 0) { throw ValidationError("--max-error: expected a positive percentage, got \(maxError)") }
        if let labels, labels.split(separator: ",", omittingEmptySubsequences: false).count != folders.count {
            throw ValidationError("--labels: \(folders.count) names expected, one per run folder, got '\(labels)'")
        }
    }

    func run() throws {
        let histories = try folders.map { try RunFolder.history(in: $0) }
        if folders.count == 1 {
            try drawCurves(of: histories[0], folder: folders[0])
        } else {
            try drawComparison(of: histories)
        }
    }

    /// One run: error, cost, energy and alignment, stacked.
    private func drawCurves(of history: [EpochRecord], folder: String) throws {
        let name = URL(fileURLWithPath: folder).lastPathComponent
        var plots = [
            LinePlot(title: "\(name): error", xLabel: "epoch", yLabel: "error (%)",
                     series: [series("train (during the epoch)", history) { 100 * $0.trainError }]
                         + optionalSeries("validation", history) { $0.validationError.map { 100 * $0 } }
                         + [series("test", history) { 100 * $0.testError }],
                     showsZeroLines: false),
            LinePlot(title: "\(name): cost at the free fixed point", xLabel: "epoch", yLabel: "mean cost C",
                     series: [series("train", history) { $0.trainCost }] + optionalSeries("validation", history) { $0.validationCost }
                         + [series("test", history) { $0.testCost }],
                     showsZeroLines: false),
        ]
        let energy = optionalSeries("test", history) { $0.testEnergy }
        if !energy.isEmpty {
            plots.append(LinePlot(title: "\(name): energy at the free fixed point", xLabel: "epoch", yLabel: "mean energy E(s⁰)",
                                  series: energy, showsZeroLines: false))
        }
        let alignment = optionalSeries("cosine", history) { $0.alignmentCosine } + optionalSeries("relative error", history) { $0.alignmentRelativeError }
        if !alignment.isEmpty {
            plots.append(LinePlot(title: "\(name): the rule's update against the exact gradient", xLabel: "epoch",
                                  yLabel: "cosine, relative error", series: alignment, showsZeroLines: true))
        }
        let path = svg ?? URL(fileURLWithPath: folder).appendingPathComponent("learning-curves.svg").path
        try writeOutput(Data(LinePlot.stacked(plots).utf8), to: path, flag: "--svg")
        print("eqprop plot: \(history.count) epoch\(history.count == 1 ? "" : "s") → \(path)")
    }

    /// Several runs: their training errors in one panel, their validation errors (where recorded)
    /// in a second and their test errors in a third, as in Figure 3 of Scellier & Bengio (2017).
    private func drawComparison(of histories: [[EpochRecord]]) throws {
        let names = labels.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            ?? folders.map { URL(fileURLWithPath: $0).lastPathComponent }
        // Errors above --max-error become gaps in their lines (non-finite points are not drawn).
        let limit = maxError ?? .infinity
        let note = maxError.map { " (above \(String(format: "%g", $0))% not drawn)" } ?? ""
        func panel(_ title: String, _ value: @escaping (EpochRecord) -> Double?) -> LinePlot? {
            let lines = zip(names, histories).flatMap { name, history in
                optionalSeries(name, history) { value($0).map { 100 * $0 <= limit ? 100 * $0 : .nan } }
            }
            return lines.isEmpty ? nil : LinePlot(title: title + note, xLabel: "epoch", yLabel: "error (%)", series: lines, showsZeroLines: false)
        }
        let plots = [
            panel("training error (during the epoch)") { $0.trainError },
            panel("validation error") { $0.validationError },
            panel("test error") { $0.testError },
        ].compactMap { $0 }
        try writeOutput(Data(LinePlot.stacked(plots).utf8), to: svg!, flag: "--svg")
        print("eqprop plot: \(histories.count) runs (\(histories.map { String($0.count) }.joined(separator: ", ")) epochs) → \(svg!)")
    }

    private func series(_ name: String, _ history: [EpochRecord], _ value: (EpochRecord) -> Double) -> LinePlot.Series {
        LinePlot.Series(name: name, points: history.map { (Double($0.epoch), value($0)) }, style: history.count == 1 ? .markers : .line)
    }

    private func optionalSeries(_ name: String, _ history: [EpochRecord], _ value: (EpochRecord) -> Double?) -> [LinePlot.Series] {
        let points = history.compactMap { record in value(record).map { (Double(record.epoch), $0) } }
        return points.isEmpty ? [] : [LinePlot.Series(name: name, points: points, style: points.count == 1 ? .markers : .line)]
    }
}
