import Foundation
import LinearAlgebra

/// A trained model on disk: a folder holding `model.json` (the configuration and the parameter
/// names) and one NumPy `.npy` file per parameter (`W0-1.npy`, `b1.npy`, …).
public struct ModelArchive: Codable, Sendable, Equatable {
    public var configuration: TrainingConfiguration
    /// The data set the model was trained on (`mnist`, `fashion-mnist`), when the writer named it;
    /// `eqprop evaluate` measures on it unless told otherwise.
    public var dataset: String?
    /// The file of each term's parameters, in the order of the energy's terms.
    public var parameterFiles: [[String]]

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

    /// Writes `energy`, `configuration` and the name of the data set trained on into `folder`. Each
    /// file is written to a temporary name and renamed, so an interrupted save never leaves a
    /// half-written file.
    public static func save<Scalar: BLASScalar>(_ energy: LayeredEnergy<Scalar>, configuration: TrainingConfiguration, dataset: String? = nil,
                                                to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var files: [[String]] = []
        for (term, names) in zip(energy.terms, energy.parameterNames.map { $0.map { "\($0).npy" } }) {
            for (name, parameter) in zip(names, term.parameters) {
                try NPY.encode(parameter).write(to: folder.appendingPathComponent(name), options: .atomic)
            }
            files.append(names)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(ModelArchive(configuration: configuration, dataset: dataset, parameterFiles: files))
            .write(to: folder.appendingPathComponent("model.json"), options: .atomic)
    }

    /// Reads a model saved by ``save(_:configuration:dataset:to:)`` into the energy its configuration
    /// names.
    public static func load<Scalar: BLASScalar>(from folder: URL, as _: Scalar.Type = Scalar.self) throws
        -> (energy: LayeredEnergy<Scalar>, configuration: TrainingConfiguration, dataset: String?)
    {
        let manifest = folder.appendingPathComponent("model.json")
        guard FileManager.default.fileExists(atPath: manifest.path) else {
            throw Failure.unreadable(file: manifest.path, reason: "no such file; expected a folder written by `eqprop train --save-model`")
        }
        let archive: ModelArchive
        do {
            archive = try JSONDecoder().decode(ModelArchive.self, from: Data(contentsOf: manifest))
        } catch let error as DecodingError {
            throw Failure.unreadable(file: manifest.path, reason: "not a model description (\(error))")
        } catch {
            throw Failure.unreadable(file: manifest.path, reason: error.localizedDescription)
        }
        var generator = SeededGenerator(seed: 0)
        var energy: LayeredEnergy<Scalar> = archive.configuration.makeEnergy(using: &generator)
        guard archive.parameterFiles.count == energy.terms.count else {
            throw Failure.unreadable(file: manifest.path, reason: "lists \(archive.parameterFiles.count) terms, the network has \(energy.terms.count)")
        }
        for (i, names) in archive.parameterFiles.enumerated() {
            var parameters = energy.terms[i].parameters
            guard names.count == parameters.count else {
                throw Failure.unreadable(file: manifest.path, reason: "term \(energy.terms[i].name) lists \(names.count) files")
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
        return (energy, archive.configuration, archive.dataset)
    }
}
