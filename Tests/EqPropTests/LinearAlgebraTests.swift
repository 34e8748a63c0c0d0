import Foundation
import LinearAlgebra
import Testing

@Suite("Linear algebra")
struct LinearAlgebraTests {
    func naiveProduct(_ a: Matrix<Double>, _ b: Matrix<Double>, transposeA: Bool, transposeB: Bool) -> Matrix<Double> {
        let opA = transposeA ? a.transposed : a
        let opB = transposeB ? b.transposed : b
        var c = Matrix<Double>(rows: opA.rows, columns: opB.columns)
        for i in 0..<opA.rows {
            for j in 0..<opB.columns {
                c[i, j] = (0..<opA.columns).reduce(0) { $0 + opA[i, $1] * opB[$1, j] }
            }
        }
        return c
    }

    @Test("Overwriting a matrix copies the elements into its own storage, which it keeps")
    func overwrite() {
        var generator = SeededGenerator(seed: 2)
        let source = Matrix<Double>.uniform(rows: 3, columns: 4, in: -1...1, using: &generator)
        var target = Matrix<Double>(rows: 3, columns: 4)
        func address(_ m: Matrix<Double>) -> UnsafeRawPointer { m.elements.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) } }
        let storage = address(target)
        target.overwrite(with: source)
        #expect(target == source)
        #expect(address(target) == storage && address(target) != address(source))
    }

    @Test("GEMM matches the definition for every transpose combination", arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemm(transposeA: Bool, transposeB: Bool) {
        var generator = SeededGenerator(seed: 1)
        let a = Matrix<Double>.uniform(rows: transposeA ? 4 : 3, columns: transposeA ? 3 : 4, in: -1...1, using: &generator)
        let b = Matrix<Double>.uniform(rows: transposeB ? 5 : 4, columns: transposeB ? 4 : 5, in: -1...1, using: &generator)
        var c = Matrix<Double>.uniform(rows: 3, columns: 5, in: -1...1, using: &generator)
        let expected = naiveProduct(a, b, transposeA: transposeA, transposeB: transposeB)
        let before = c
        c.multiplyAdd(a, b, transposeA: transposeA, transposeB: transposeB, alpha: 2, beta: 0.5)
        for i in 0..<c.count {
            #expect(abs(c.elements[i] - (2 * expected.elements[i] + 0.5 * before.elements[i])) < 1e-12)
        }
        let floatProduct = Matrix.product(a.converted(to: Float.self), b.converted(to: Float.self), transposeA: transposeA, transposeB: transposeB)
        for i in 0..<floatProduct.count { #expect(abs(Double(floatProduct.elements[i]) - expected.elements[i]) < 1e-5) }
    }

    /// A matrix with about `density` of its elements nonzero, an all-zero row and an all-zero column.
    func sparseMatrix(rows: Int, columns: Int, density: Double, seed: UInt64) -> Matrix<Double> {
        var generator = SeededGenerator(seed: seed)
        var a = Matrix<Double>.uniform(rows: rows, columns: columns, in: -1...1, using: &generator)
        for i in 0..<rows {
            for j in 0..<columns where i == 1 || j == 2 || Double.random(in: 0..<1, using: &generator) >= density { a[i, j] = 0 }
        }
        return a
    }

    @Test("Products that visit only the nonzeros match GEMM: A·B into every row, Aᵀ·B into the occupied rows only",
          arguments: [0.0, 0.1, 0.3, 1.0], [70, 100, 150])
    func sparseProducts(density: Double, width: Int) {
        var generator = SeededGenerator(seed: 7)
        // Rows of 70, 100 and 150 leave a tile of 64 with a remainder of 6, of 32 + 4 and of 16 + 6.
        let a = sparseMatrix(rows: 9, columns: 13, density: density, seed: 3)
        let byRow = SparseRows(a), byColumn = SparseColumns(a)
        #expect(byColumn.values.count == a.nonzeroCount() && byRow.values.count == a.nonzeroCount())
        #expect(!byColumn.occupiedColumns.contains(2) && !byColumn.rowIndices.contains(1))
        #expect(byRow.rowStarts[2] == byRow.rowStarts[1] && !byRow.columnIndices.contains(2))
        let b = Matrix<Double>.uniform(rows: 13, columns: width, in: -1...1, using: &generator)
        var c = Matrix<Double>.uniform(rows: 9, columns: width, in: -1...1, using: &generator)
        var expected = naiveProduct(a, b, transposeA: false, transposeB: false)
        expected.scale(by: -0.5)
        expected.add(c)
        var skipping = c
        c.multiplyAdd(byRow, b, alpha: -0.5)
        skipping.multiplyAddSkippingZeros(a, b, alpha: -0.5)
        #expect(c.elements.indices.allSatisfy { abs(c.elements[$0] - expected.elements[$0]) < 1e-12 })
        #expect(skipping.elements.indices.allSatisfy { abs(skipping.elements[$0] - expected.elements[$0]) < 1e-12 })

        let d = Matrix<Double>.uniform(rows: 9, columns: width, in: -1...1, using: &generator)
        let w = Matrix<Double>.uniform(rows: 13, columns: width, in: -1...1, using: &generator)
        var updated = w, updatedSkipping = w
        var expectedUpdate = naiveProduct(a, d, transposeA: true, transposeB: false)
        expectedUpdate.scale(by: 0.25)
        expectedUpdate.add(w)
        updated.multiplyAdd(transposing: byColumn, d, alpha: 0.25)
        updatedSkipping.multiplyAddSkippingZeros(transposing: a, d, alpha: 0.25)
        #expect(updated.elements.indices.allSatisfy { abs(updated.elements[$0] - expectedUpdate.elements[$0]) < 1e-12 })
        #expect(updatedSkipping.elements.indices.allSatisfy { abs(updatedSkipping.elements[$0] - expectedUpdate.elements[$0]) < 1e-12 })
        #expect(updated.elements[(2 * width)..<(3 * width)] == w.elements[(2 * width)..<(3 * width)], "the row of an empty column is not touched")
    }

    @Test("A product skips zeros below a quarter of nonzeros and on rows of at least 64, never on short rows")
    func sparseProductPolicy() {
        let images = sparseMatrix(rows: 20, columns: 784, density: 0.19, seed: 1)
        let dense = sparseMatrix(rows: 20, columns: 784, density: 0.5, seed: 1)
        #expect(Matrix.sparseFactor(images, rowLength: 500) != nil)
        #expect(Matrix.sparseFactor(images, rowLength: 10) == nil)
        #expect(Matrix.sparseFactor(dense, rowLength: 500) == nil)
    }

    @Test("A transpose added in tiles is the transpose, at sizes that leave partial tiles")
    func transposedAdd() {
        var generator = SeededGenerator(seed: 3)
        let a = Matrix<Float>.uniform(rows: 37, columns: 19, in: -1...1, using: &generator)
        var sum = Matrix<Float>(rows: 19, columns: 37, repeating: 1)
        sum.transposedAdd(a, scaledBy: 2)
        for i in 0..<37 {
            for j in 0..<19 { #expect(sum[j, i] == 1 + 2 * a[i, j]) }
        }
    }

    @Test("Convolution matches its definition, and its transpose is its adjoint", arguments: [
        ConvolutionGeometry(inputChannels: 2, height: 5, width: 6, outputChannels: 3, kernel: 3, stride: 1, padding: 1),
        ConvolutionGeometry(inputChannels: 1, height: 7, width: 5, outputChannels: 2, kernel: 3, stride: 2, padding: 0),
        ConvolutionGeometry(inputChannels: 3, height: 4, width: 4, outputChannels: 2, kernel: 2, stride: 2, padding: 1),
        // Unfolding copies only the runs of rows and columns inside the image, worked out per kernel offset:
        // edges of every kind, an empty run (3×2 with kernel 4), padding one short of the kernel.
        ConvolutionGeometry(inputChannels: 2, height: 9, width: 8, outputChannels: 2, kernel: 5, stride: 2, padding: 2),
        ConvolutionGeometry(inputChannels: 1, height: 6, width: 7, outputChannels: 2, kernel: 4, stride: 2, padding: 1),
        ConvolutionGeometry(inputChannels: 1, height: 8, width: 8, outputChannels: 1, kernel: 3, stride: 3, padding: 2),
        ConvolutionGeometry(inputChannels: 1, height: 3, width: 2, outputChannels: 2, kernel: 4, stride: 1, padding: 1),
        ConvolutionGeometry(inputChannels: 2, height: 5, width: 5, outputChannels: 1, kernel: 5, stride: 1, padding: 4),
    ])
    func convolution(geometry g: ConvolutionGeometry) {
        var generator = SeededGenerator(seed: 5)
        let x = Matrix<Double>.uniform(rows: 3, columns: g.inputUnits, in: -1...1, using: &generator)
        let w = Matrix<Double>.uniform(rows: g.outputChannels, columns: g.patchSize, in: -1...1, using: &generator)
        var y = Matrix<Double>(rows: 3, columns: g.outputUnits)
        y.addConvolution(of: x, by: w, geometry: g)
        // The definition: y[b, o, i, j] = Σ_{c,u,v} w[o, c, u, v] · x[b, c, i·s + u − p, j·s + v − p].
        for b in 0..<3 {
            for o in 0..<g.outputChannels {
                for i in 0..<g.outputHeight {
                    for j in 0..<g.outputWidth {
                        var sum = 0.0
                        for c in 0..<g.inputChannels {
                            for u in 0..<g.kernel {
                                for v in 0..<g.kernel {
                                    let (row, column) = (i * g.stride + u - g.padding, j * g.stride + v - g.padding)
                                    guard (0..<g.height).contains(row), (0..<g.width).contains(column) else { continue }
                                    sum += w[o, (c * g.kernel + u) * g.kernel + v] * x[b, (c * g.height + row) * g.width + column]
                                }
                            }
                        }
                        #expect(abs(y[b, (o * g.outputHeight + i) * g.outputWidth + j] - sum) < 1e-12)
                    }
                }
            }
        }
        let u = Matrix<Double>.uniform(rows: 3, columns: g.outputUnits, in: -1...1, using: &generator)
        var back = Matrix<Double>(rows: 3, columns: g.inputUnits)
        back.addTransposedConvolution(of: u, by: w, geometry: g)
        #expect(abs(u.dot(y) - back.dot(x)) < 1e-10, "⟨u, conv x⟩ = ⟨convᵀ u, x⟩")
        // ⟨u, conv(x; W)⟩ is linear in W: its gradient G gives ⟨G, W⟩ = ⟨u, conv(x; W)⟩.
        var gradient = Matrix<Double>(rows: g.outputChannels, columns: g.patchSize)
        gradient.addConvolutionWeightGradient(output: u, input: x, geometry: g)
        #expect(abs(gradient.dot(w) - u.dot(y)) < 1e-10)
    }

    @Test("Max pooling takes each window's largest entry; its selection's transpose is its adjoint; windows that do not tile are refused")
    func maxPooling() {
        let pooling = MaxPooling(channels: 2, height: 4, width: 6, window: 2)
        var generator = SeededGenerator(seed: 5)
        let u = Matrix<Double>.uniform(rows: 3, columns: pooling.inputUnits, in: -1...1, using: &generator)
        let (pooled, choice) = pooling.pool(u)
        #expect(pooled.columns == 12)
        for example in 0..<3 {
            for (unit, window) in pooling.windows.enumerated() {
                let largest = window.map { u[example, $0] }.max()!
                #expect(pooled[example, unit] == largest)
                #expect(u.elements[choice.positions[example * 12 + unit]] == largest)
            }
        }
        #expect(pooling.select(u, at: choice) == pooled)
        let y = Matrix<Double>.uniform(rows: 3, columns: 12, in: -1...1, using: &generator)
        let v = Matrix<Double>.uniform(rows: 3, columns: pooling.inputUnits, in: -1...1, using: &generator)
        #expect(abs(pooling.route(y, to: choice).dot(v) - y.dot(pooling.select(v, at: choice))) < 1e-12)
        #expect(MaxPooling(channels: 1, height: 5, width: 4, window: 2).problem?.contains("do not tile the 5×4") == true)
    }

    @Test("A convolution that does not fit its input says why")
    func convolutionProblems() {
        #expect(ConvolutionGeometry(inputChannels: 1, height: 4, width: 4, outputChannels: 1, kernel: 7, padding: 1).problem?.contains("larger than the padded 6×6 input") == true)
        #expect(ConvolutionGeometry(inputChannels: 1, height: 4, width: 4, outputChannels: 1, kernel: 3, padding: 3).problem?.contains("padding") == true)
        #expect(ConvolutionGeometry(inputChannels: 1, height: 4, width: 4, outputChannels: 0, kernel: 3).problem != nil)
        #expect(ConvolutionGeometry(inputChannels: 1, height: 4, width: 4, outputChannels: 2, kernel: 3, padding: 1).problem == nil)
    }

    @Test("Magnitudes are ordered as their bit patterns are, and come back from them")
    func magnitudeBits() {
        var generator = SeededGenerator(seed: 4)
        let values = (0..<1000).map { _ in Float.random(in: -1e3...1e3, using: &generator) } + [0, -0, 1e-40, .infinity, -.greatestFiniteMagnitude]
        for (a, b) in zip(values, values.shuffled(using: &generator)) {
            #expect((abs(a) < abs(b)) == (a.magnitudeBits < b.magnitudeBits), "\(a), \(b)")
            #expect(Float(magnitudeBits: a.magnitudeBits) == abs(a) && Double(magnitudeBits: Double(a).magnitudeBits) == abs(Double(a)))
        }
    }

    @Test("isFinite detects NaN and infinities")
    func finiteness() {
        var m = Matrix<Float>(rows: 2, columns: 3, repeating: 1)
        #expect(m.isFinite)
        m[1, 2] = .nan
        #expect(!m.isFinite)
        m[1, 2] = -.infinity
        #expect(!m.isFinite)
        m[1, 2] = .greatestFiniteMagnitude
        #expect(m.isFinite)
    }

    @Test("NPY round trip, and numpy's own header layout")
    func npyRoundTrip() throws {
        var generator = SeededGenerator(seed: 2)
        let m = Matrix<Float>.uniform(rows: 3, columns: 7, in: -1...1, using: &generator)
        let data = NPY.encode(m)
        #expect((10 + Int(data[8]) + Int(data[9]) * 256) % 64 == 0, "header must be padded to 64 bytes")
        #expect(try NPY.decode(data, as: Float.self, file: "m.npy") == m)
        // A convolution's weight, 3 kernels of 1×7: written 4-D, read back as its 3×7 matrix.
        let fourD = NPY.encode(m, shape: [3, 1, 7, 1])
        #expect(String(decoding: fourD[10..<80], as: UTF8.self).contains("'shape': (3, 1, 7, 1), "))
        #expect(try NPY.decode(fourD, as: Float.self, file: "w.npy") == m)
    }

    @Test("Malformed NPY data is refused with the file name")
    func npyRejects() {
        let good = NPY.encode(Matrix<Float>(rows: 2, columns: 2, repeating: 1))
        #expect(throws: NPY.Failure.self) { try NPY.decode(Data("hello".utf8), as: Float.self, file: "x.npy") }
        #expect(throws: NPY.Failure.self) { try NPY.decode(good.dropLast(3), as: Float.self, file: "x.npy") }
        do {
            _ = try NPY.decode(good, as: Double.self, file: "weights.npy")
            Issue.record("a float32 file must not load as float64")
        } catch {
            #expect("\(error)".contains("weights.npy"))
        }
    }

    @Test("The seeded generator is reproducible and its state survives encoding")
    func generator() throws {
        var a = SeededGenerator(seed: 42)
        _ = a.next()
        var b = try JSONDecoder().decode(SeededGenerator.self, from: JSONEncoder().encode(a))
        #expect((0..<5).map { _ in a.next() } == (0..<5).map { _ in b.next() })
        var c = SeededGenerator(seed: 43), d = SeededGenerator(seed: 42)
        #expect(d.next() != c.next())
    }

    @Test("A stopwatch counts the time that passed, in seconds, and keeps running")
    func stopwatch() throws {
        let watch = Stopwatch()
        let first = watch.seconds
        Thread.sleep(forTimeInterval: 0.02)
        let second = watch.seconds
        #expect(first >= 0)
        #expect(second - first >= 0.019)
        #expect(second < 60)
    }
}
