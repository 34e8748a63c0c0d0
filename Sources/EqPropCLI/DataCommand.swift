import ArgumentParser
import Datasets
import Foundation

/// `eqprop data …`: the data sets on disk.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Download and check the data sets.", subcommands: [Download.self])

    struct Download: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch a data set's canonical files, verify their SHA-256 and move them into the data folder.",
            discussion: """
                Files already present and intact are kept. A download arrives in FILE.partial and resumes from there if it \
                was interrupted; a file whose checksum does not match is deleted and reported.
                """)

        @Argument(help: "mnist or fashion-mnist.") var dataset: DatasetName

        @Option(help: ArgumentHelp("Folder holding the data sets (default: $EQPROP_DATA, else ~/.cache/eqprop/data).", valueName: "dir"))
        var dataDir: String?

        @Option(help: ArgumentHelp("Fetch from this base URL (http, https or file) instead of the canonical mirrors (repeatable).", valueName: "url"))
        var mirror: [String] = []

        func run() throws {
            let mirrors = try mirror.map { text -> URL in
                guard let url = URL(string: text.hasSuffix("/") ? text : text + "/"), ["http", "https", "file"].contains(url.scheme) else {
                    throw ValidationError("--mirror: expected an http://, https:// or file:// URL, got '\(text)'")
                }
                return url
            }
            let directory = DataDirectory.resolve(flag: dataDir)
            let folder = directory.url.appendingPathComponent(dataset.rawValue)
            var missing: [String] = []
            for file in DatasetName.fileNames {
                let path = folder.appendingPathComponent(file)
                if let data = FileManager.default.contents(atPath: path.path),
                   (try? directory.verify(data, file: file, of: dataset, source: path.path)) != nil {
                    print("\(path.path): present, checksum verified")
                } else {
                    missing.append(file)
                }
            }
            try directory.fetch(missing, of: dataset, mirrors: mirrors.isEmpty ? nil : mirrors) { print($0) }
            for file in missing { print("\(folder.appendingPathComponent(file).path): downloaded, checksum verified") }
        }
    }
}
