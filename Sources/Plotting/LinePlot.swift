import Foundation

/// A two-dimensional plot of one or more series, drawn as a self-contained SVG document with
/// axes, tick labels, axis titles, a title and a legend.
public struct LinePlot: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Draw the line `y = 0` (and `x = 0`) when it falls inside the plotted range.
    public var showsZeroLines: Bool

    public init(title: String, xLabel: String, yLabel: String, series: [Series] = [], showsZeroLines: Bool = true) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.showsZeroLines = showsZeroLines
    }

    /// One named set of points. Non-finite points are skipped (a line is broken there).
    public struct Series: Sendable {
        public enum Style: Sendable {
            case line
            case markers
        }

        public var name: String
        public var points: [(x: Double, y: Double)]
        public var style: Style

        public init(name: String, points: [(x: Double, y: Double)], style: Style = .line) {
            self.name = name
            self.points = points
            self.style = style
        }
    }

    /// The SVG document, `width × height` pixels.
    public func svg(width: Double = 720, height: Double = 440) -> String {
        let margin = (left: 78.0, right: 24.0, top: 40.0, bottom: 58.0)
        let plotWidth = width - margin.left - margin.right
        let plotHeight = height - margin.top - margin.bottom
        let finite = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xTicks = Ticks(covering: finite.map(\.x))
        let yTicks = Ticks(covering: finite.map(\.y))
        func px(_ x: Double) -> Double { margin.left + (x - xTicks.lower) / (xTicks.upper - xTicks.lower) * plotWidth }
        func py(_ y: Double) -> Double { margin.top + (yTicks.upper - y) / (yTicks.upper - yTicks.lower) * plotHeight }

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(format(width))" height="\(format(height))" \
            viewBox="0 0 \(format(width)) \(format(height))" font-family="Helvetica, Arial, sans-serif" font-size="13">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(format(width / 2))" y="24" text-anchor="middle" font-size="16">\(escaped(title))</text>

            """
        for tick in xTicks.values {
            let x = px(tick)
            svg += line(x, margin.top, x, margin.top + plotHeight, stroke: "#e4e4e4")
            svg += text(xTicks.label(tick), x: x, y: margin.top + plotHeight + 18, anchor: "middle")
        }
        for tick in yTicks.values {
            let y = py(tick)
            svg += line(margin.left, y, margin.left + plotWidth, y, stroke: "#e4e4e4")
            svg += text(yTicks.label(tick), x: margin.left - 8, y: y + 4, anchor: "end")
        }
        if showsZeroLines {
            if yTicks.lower < 0, yTicks.upper > 0 { svg += line(margin.left, py(0), margin.left + plotWidth, py(0), stroke: "#888") }
            if xTicks.lower < 0, xTicks.upper > 0 { svg += line(px(0), margin.top, px(0), margin.top + plotHeight, stroke: "#888") }
        }
        svg += "<rect x=\"\(format(margin.left))\" y=\"\(format(margin.top))\" width=\"\(format(plotWidth))\" "
            + "height=\"\(format(plotHeight))\" fill=\"none\" stroke=\"#333\"/>\n"
        svg += text(xLabel, x: margin.left + plotWidth / 2, y: height - 14, anchor: "middle")
        let yCenter = margin.top + plotHeight / 2
        svg += "<text x=\"18\" y=\"\(format(yCenter))\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 18 \(format(yCenter)))\">\(escaped(yLabel))</text>\n"

        // The legend goes in the corner of the plot area that holds the fewest points.
        let legendWidth = 30 + 7.5 * Double(series.map(\.name.count).max() ?? 0), legendHeight = 18 * Double(series.count) + 8
        let corners = [(margin.left + 12, margin.top), (margin.left + plotWidth - legendWidth, margin.top),
                       (margin.left + 12, margin.top + plotHeight - legendHeight), (margin.left + plotWidth - legendWidth, margin.top + plotHeight - legendHeight)]
        func crowding(_ corner: (Double, Double)) -> Int {
            finite.filter { point in
                let x = px(point.x), y = py(point.y)
                return x >= corner.0 - 6 && x <= corner.0 + legendWidth + 6 && y >= corner.1 - 6 && y <= corner.1 + legendHeight + 6
            }.count
        }
        let (legendLeft, legendTop) = corners.min { crowding($0) < crowding($1) }!
        for (index, item) in series.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            switch item.style {
            case .line:
                for segment in finiteSegments(item.points) where segment.count > 1 {
                    let path = segment.map { "\(format(px($0.x))),\(format(py($0.y)))" }.joined(separator: " ")
                    svg += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
                }
            case .markers:
                for point in item.points where point.x.isFinite && point.y.isFinite {
                    svg += "<circle cx=\"\(format(px(point.x)))\" cy=\"\(format(py(point.y)))\" r=\"2.2\" fill=\"\(color)\" fill-opacity=\"0.7\"/>\n"
                }
            }
            let legendY = legendTop + 16 + Double(index) * 18
            let legendX = legendLeft
            switch item.style {
            case .line: svg += line(legendX, legendY - 4, legendX + 22, legendY - 4, stroke: color, width: 2)
            case .markers: svg += "<circle cx=\"\(format(legendX + 11))\" cy=\"\(format(legendY - 4))\" r=\"3\" fill=\"\(color)\"/>\n"
            }
            svg += text(item.name, x: legendX + 30, y: legendY, anchor: "start")
        }
        return svg + "</svg>\n"
    }

    /// Colour-blind-safe colours (Okabe & Ito).
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]

    private func finiteSegments(_ points: [(x: Double, y: Double)]) -> [[(x: Double, y: Double)]] {
        var segments: [[(x: Double, y: Double)]] = [[]]
        for point in points {
            if point.x.isFinite && point.y.isFinite {
                segments[segments.count - 1].append(point)
            } else if !segments[segments.count - 1].isEmpty {
                segments.append([])
            }
        }
        return segments
    }

    private func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1) -> String {
        "<line x1=\"\(format(x1))\" y1=\"\(format(y1))\" x2=\"\(format(x2))\" y2=\"\(format(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(format(width))\"/>\n"
    }

    private func text(_ content: String, x: Double, y: Double, anchor: String) -> String {
        "<text x=\"\(format(x))\" y=\"\(format(y))\" text-anchor=\"\(anchor)\">\(escaped(content))</text>\n"
    }
}

/// Round tick values (1, 2 or 5 × 10ⁿ apart) covering a set of values.
struct Ticks {
    let lower: Double
    let upper: Double
    let step: Double

    init(covering values: [Double], targetCount: Int = 6) {
        var low = values.min() ?? 0, high = values.max() ?? 1
        if low == high {
            let pad = low == 0 ? 1 : abs(low) * 0.1
            low -= pad
            high += pad
        }
        let raw = (high - low) / Double(targetCount)
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        self.step = step
        lower = (low / step).rounded(.down) * step
        upper = (high / step).rounded(.up) * step
    }

    var values: [Double] {
        let count = Int(((upper - lower) / step).rounded())
        return (0...count).map { lower + Double($0) * step }
    }

    /// A label with as many decimals as the step needs (scientific notation for tiny or huge steps).
    func label(_ value: Double) -> String {
        if abs(value) < step * 1e-9 { return "0" }
        if step < 1e-3 || step >= 1e6 { return String(format: "%.1e", value) }
        let decimals = max(0, Int((-log10(step) - 1e-9).rounded(.up)))
        return String(format: "%.\(decimals)f", value)
    }
}

private func format(_ value: Double) -> String { String(format: "%.1f", value) }

private func escaped(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
}

extension LinePlot {
    /// Several plots stacked vertically in one SVG document, each `width × height`.
    public static func stacked(_ plots: [LinePlot], width: Double = 720, height: Double = 440) -> String {
        let total = height * Double(plots.count)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(format(width))\" height=\"\(format(total))\" "
            + "viewBox=\"0 0 \(format(width)) \(format(total))\">\n"
        for (index, plot) in plots.enumerated() {
            // A nested <svg> element is placed by its x/y attributes.
            svg += plot.svg(width: width, height: height).replacingOccurrences(
                of: "<svg xmlns=\"http://www.w3.org/2000/svg\" ", with: "<svg x=\"0\" y=\"\(format(Double(index) * height))\" ")
        }
        return svg + "</svg>\n"
    }
}
