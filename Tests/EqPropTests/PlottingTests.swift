import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Plotting
import Testing

@Suite("SVG plots")
struct PlottingTests {
    let plot = LinePlot(
        title: "Δw <per pair> & fits", xLabel: "Δt (ms)", yLabel: "Δw",
        series: [
            .init(name: "spikes", points: [(-10, -0.002), (0, .nan), (10, 0.002)], style: .markers),
            .init(name: "rate", points: [(-10, -0.0019), (-5, -0.001), (0, .infinity), (5, 0.001), (10, 0.0019)]),
        ])

    @Test("The SVG is well-formed XML with the title, axis labels and a legend entry per series")
    func wellFormed() throws {
        let svg = plot.svg()
        let document = try XMLDocument(xmlString: svg)
        let texts = try document.nodes(forXPath: "//*[local-name()='text']").compactMap(\.stringValue)
        #expect(texts.contains("Δw <per pair> & fits"), "special characters are escaped and read back")
        #expect(texts.contains("Δt (ms)") && texts.contains("Δw"))
        #expect(texts.contains("spikes") && texts.contains("rate"))
        #expect(texts.contains("0"), "a tick at zero")
    }

    @Test("Non-finite points are skipped: a line breaks there, markers are left out")
    func nonFinitePoints() throws {
        let svg = plot.svg()
        #expect(!svg.contains("nan") && !svg.contains("inf"))
        let document = try XMLDocument(xmlString: svg)
        #expect(try document.nodes(forXPath: "//*[local-name()='polyline']").count == 2, "the rate line is broken at the infinite point")
        #expect(try document.nodes(forXPath: "//*[local-name()='circle']").count == 3, "two markers and one legend marker")
    }
}
