import EnergyBasedLearning
import Foundation
import LinearAlgebra

/// A trained model on disk: a folder holding `model.json` (the run that trained it, when it was
/// described by one, and the parameter files) and one NumPy `.npy` file per parameter
/// (`W0-1.npy`, `b1.npy`, …), each written by ``AtomicFile``.
///
/// A model of a run file rebuilds itself (``load(from:as:)``); the parameters of any model,
/// composed in code or not, load into a network of the same terms by name (``load(into:from:)``).
public struct ModelArchive: Codable, Sendable, Equatable {
    /// The layout's version: 2 (earlier versions wrote no format and a `configuration`).
    public var format: Int
    /// The run that trained the model (its data set is what `eqprop evaluate` measures on); `nil`
    /// for a model composed in code.
    public var run: RunSpecification?
    /// The file of each term's parameters, in the order of the energy's terms.
    public var parameterFiles: [[String]]

    public static let format = 2

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(file: String, reason: String)
        case shapeMismatch(file: String, expected: String, found: String)

        public var description: String {
            switch self {
            case let .unreadable(file, reason): return "\(file): cannot read the model: \(reason)"
            case let .shapeMismatch(file, expected, found): return "\(file): expected a \(expected) matrix, found \(found)"
            }
        }
    }

    /// Writes `energy`'s parameters and the run that trained it into `folder`.
    public static func save<Scalar: BLASScalar>(_ energy: LayeredEnergy<Scalar>, run: RunSpecification? = nil, to folder: URL) throws {
        let files = energy.parameterNames.map { $0.map { "\($0).npy" } }
        for (term, names) in zip(energy.terms, files) {
            for (name, (parameter, shape)) in zip(names, zip(term.parameters, term.parameterShapes)) {
                try AtomicFile.write(NPY.encode(parameter, shape: shape), to: folder.appendingPathComponent(name))
            }
        }
        try AtomicFile.write(prettyJSON(ModelArchive(format: format, run: run, parameterFiles: files)), to: folder.appendingPathComponent("model.json"))
    }

    /// Reads the description of the model in `folder`; one written by an earlier version of EqProp
    /// has its configuration converted to today's run.
    public static func description(in folder: URL) throws -> ModelArchive {
        let manifest = folder.appendingPathComponent("model.json")
        guard FileManager.default.fileExists(atPath: manifest.path) else {
            throw Failure.unreadable(file: manifest.path, reason: "no such file; expected a folder written by `eqprop train --save-model` or `--output`")
        }
        do {
            let data = try Data(contentsOf: manifest)
            if try JSONDecoder().decode(FormatProbe.self, from: data).format != nil { return try JSONDecoder().decode(ModelArchive.self, from: data) }
            let legacy = try JSONDecoder().decode(LegacyModel.self, from: data)
            let settings = LegacyRunFile.settings(configuration: legacy.configuration, dataset: legacy.dataset ?? "mnist", file: manifest.path)
            return ModelArchive(format: format, run: try RunSpecification(settings: settings), parameterFiles: legacy.parameterFiles)
        } catch let error as DecodingError {
            throw Failure.unreadable(file: manifest.path, reason: "not a model description (\(error.summary))")
        } catch let error as RunFileError {
            throw Failure.unreadable(file: manifest.path, reason: "\(error)")
        } catch {
            throw Failure.unreadable(file: manifest.path, reason: error.localizedDescription)
        }
    }

    /// Whether a `model.json` has a format (this version's layout) or not (an earlier one).
    private struct FormatProbe: Decodable { var format: Int? }

    /// What earlier versions wrote: a `TrainingConfiguration`, the data set and the files.
    private struct LegacyModel: Decodable {
        var configuration: [String: LegacyRunFile.ConfigurationValue]
        var dataset: String?
        var parameterFiles: [[String]]
    }

    /// The model in `folder`, rebuilt from the run that trained it.
    public static func load<Scalar: BLASScalar>(from folder: URL, as _: Scalar.Type = Scalar.self) throws
        -> (energy: LayeredEnergy<Scalar>, run: RunSpecification)
    {
        let archive = try description(in: folder)
        guard let run = archive.run else {
            throw Failure.unreadable(file: folder.appendingPathComponent("model.json").path,
                                     reason: "the model was composed in code and names no run; load its parameters into the same network with ModelArchive.load(into:from:)")
        }
        var generator = SeededGenerator(seed: 0)
        var energy: LayeredEnergy<Scalar> = run.learning.makeEnergy(using: &generator)
        try load(into: &energy, from: folder, files: archive.parameterFiles)
        return (energy, run)
    }

    /// Reads the parameters of the model in `folder` into `energy`, a network of the same terms.
    public static func load<Scalar: BLASScalar>(into energy: inout LayeredEnergy<Scalar>, from folder: URL) throws {
        try load(into: &energy, from: folder, files: description(in: folder).parameterFiles)
    }

    private static func load<Scalar: BLASScalar>(into energy: inout LayeredEnergy<Scalar>, from folder: URL, files: [[String]]) throws {
        let manifest = folder.appendingPathComponent("model.json").path
        guard files.count == energy.terms.count else {
            throw Failure.unreadable(file: manifest, reason: "lists \(files.count) terms, the network has \(energy.terms.count)")
        }
        for (i, names) in files.enumerated() {
            var parameters = energy.terms[i].parameters
            guard names.count == parameters.count else {
                throw Failure.unreadable(file: manifest, reason: "term \(energy.terms[i].name) lists \(names.count) files, it has \(parameters.count) parameters")
            }
            for (j, name) in names.enumerated() {
                let url = folder.appendingPathComponent(name)
                let matrix: Matrix<Scalar>
                do {
                    matrix = try NPY.decode(Data(contentsOf: url), file: url.path)
                } catch let error as NPY.Failure {
                    throw Failure.unreadable(file: url.path, reason: error.description)
                } catch {
                    throw Failure.unreadable(file: url.path, reason: error.localizedDescription)
                }
                guard matrix.rows == parameters[j].rows, matrix.columns == parameters[j].columns else {
                    throw Failure.shapeMismatch(file: url.path, expected: "\(parameters[j].rows)×\(parameters[j].columns)",
                                                found: "\(matrix.rows)×\(matrix.columns)")
                }
                parameters[j] = matrix
            }
            energy.terms[i].parameters = parameters
        }
    }
}

extension DecodingError {
    /// Where the JSON is wrong and what was found, in one line.
    var summary: String {
        let (path, detail): ([CodingKey], String) = switch self {
        case let .dataCorrupted(context): (context.codingPath, context.debugDescription)
        case let .keyNotFound(key, context): (context.codingPath, "missing the key '\(key.stringValue)'")
        case let .typeMismatch(_, context), let .valueNotFound(_, context): (context.codingPath, context.debugDescription)
        @unknown default: ([], "\(self)")
        }
        let place = path.map(\.stringValue).joined(separator: ".")
        return place.isEmpty ? detail : "at \(place): \(detail)"
    }
}
