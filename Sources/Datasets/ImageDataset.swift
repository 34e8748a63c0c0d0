import Foundation

/// Images and their class labels, as stored in IDX files.
public struct LabeledImages: Sendable, Equatable {
    /// `count × pixelsPerImage` bytes, row-major.
    public var pixels: [UInt8]
    public var labels: [UInt8]
    public var pixelsPerImage: Int
    public var classCount: Int

    public var count: Int { labels.count }

    /// Reads an image file (IDX, 3 axes) and a label file (IDX, 1 axis), gzip or raw.
    public init(imagesFile: URL, labelsFile: URL, classCount: Int = 10) throws {
        let images = try IDXArray(parsing: Self.read(imagesFile), expectingDimensions: 3, file: imagesFile.path)
        let labels = try IDXArray(parsing: Self.read(labelsFile), expectingDimensions: 1, file: labelsFile.path)
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw DatasetError.countMismatch(images: imagesFile.path, imageCount: images.dimensions[0],
                                             labels: labelsFile.path, labelCount: labels.dimensions[0])
        }
        if let bad = labels.bytes.firstIndex(where: { Int($0) >= classCount }) {
            throw DatasetError.labelOutOfRange(file: labelsFile.path, index: bad, label: Int(labels.bytes[bad]), classes: classCount)
        }
        self.pixels = images.bytes
        self.labels = labels.bytes
        self.pixelsPerImage = images.dimensions[1] * images.dimensions[2]
        self.classCount = classCount
    }

    public init(pixels: [UInt8], labels: [UInt8], pixelsPerImage: Int, classCount: Int) {
        precondition(pixels.count == labels.count * pixelsPerImage, "pixel count must be labels × pixelsPerImage")
        self.pixels = pixels
        self.labels = labels
        self.pixelsPerImage = pixelsPerImage
        self.classCount = classCount
    }

    /// The first `count` examples.
    public func prefix(_ count: Int) -> LabeledImages { examples(0..<Swift.min(count, self.count)) }

    /// The last `count` examples.
    public func suffix(_ count: Int) -> LabeledImages { examples((self.count - Swift.min(count, self.count))..<self.count) }

    /// The examples in `range`.
    public func examples(_ range: Range<Int>) -> LabeledImages {
        LabeledImages(pixels: Array(pixels[(range.lowerBound * pixelsPerImage)..<(range.upperBound * pixelsPerImage)]),
                      labels: Array(labels[range]), pixelsPerImage: pixelsPerImage, classCount: classCount)
    }

    static func read(_ url: URL) throws -> Data {
        do {
            return try Data(contentsOf: url)
        } catch {
            throw DatasetError.unreadable(file: url.path, reason: error.localizedDescription)
        }
    }
}
