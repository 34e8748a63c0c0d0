import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetches one file over HTTP(S) (or from a `file://` mirror) into `<destination>.partial`, resuming a partial download with a
/// `Range` request, and hands back the complete bytes. The partial file stays on disk when the
/// transfer fails, so the next attempt continues where this one stopped.
struct ResumableDownload {
    var source: URL
    var destination: URL
    var timeout: TimeInterval = 60

    var partial: URL { destination.appendingPathExtension("partial") }

    /// Downloads the rest of the file and returns all of it. A `file://` source (a local mirror)
    /// is read whole.
    func run() throws -> Data {
        let manager = FileManager.default
        if source.isFileURL {
            guard let data = manager.contents(atPath: source.path) else {
                throw DatasetError.unreadable(file: source.path, reason: "no such file in the local mirror")
            }
            try data.write(to: partial)
            return data
        }
        if !manager.fileExists(atPath: partial.path) { _ = manager.createFile(atPath: partial.path, contents: nil) }
        guard let handle = FileHandle(forUpdatingAtPath: partial.path) else {
            throw DatasetError.unreadable(file: partial.path, reason: "cannot open the partial download for writing")
        }
        defer { try? handle.close() }
        let offset = try handle.seekToEnd()
        var request = URLRequest(url: source, timeoutInterval: timeout)
        if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
        let receiver = Receiver(handle: handle, offset: offset)
        let session = URLSession(configuration: .ephemeral, delegate: receiver, delegateQueue: nil)
        session.dataTask(with: request).resume()
        receiver.done.wait()
        session.finishTasksAndInvalidate()
        if let error = receiver.failure {
            if (try? handle.seekToEnd()) == 0 { try? manager.removeItem(at: partial) }
            throw DatasetError.unreadable(file: source.absoluteString, reason: error)
        }
        try handle.synchronize()
        return try Data(contentsOf: partial)
    }

    /// Appends the response body to the partial file as it arrives; a `200` (the server ignored the
    /// range) starts the file over, a `206` continues it.
    private final class Receiver: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let handle: FileHandle
        let offset: UInt64
        let done = DispatchSemaphore(value: 0)
        var failure: String?

        init(handle: FileHandle, offset: UInt64) {
            self.handle = handle
            self.offset = offset
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            switch status {
            case 200:
                try? handle.truncate(atOffset: 0)
                completionHandler(.allow)
            case 206 where offset > 0:
                completionHandler(.allow)
            case 416 where offset > 0:
                // The partial file already holds the whole file.
                completionHandler(.cancel)
            default:
                failure = "HTTP status \(status)"
                completionHandler(.cancel)
            }
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            do {
                try handle.write(contentsOf: data)
            } catch {
                failure = "cannot write the partial download: \(error.localizedDescription)"
                dataTask.cancel()
            }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            if failure == nil, let error, (error as? URLError)?.code != .cancelled { failure = error.localizedDescription }
            done.signal()
        }
    }
}
