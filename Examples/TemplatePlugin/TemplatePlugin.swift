// A complete, minimal EdgeHAL backend plugin in Swift: copy this folder out of the tree, rename the
// backend, replace the kernels with your device's. It speaks only the C ABI of edgehal_plugin.h (no
// EdgeHAL Swift types cross the boundary), runs on host memory, implements add and mul (with
// broadcast), scale, silu, rms_norm and rms_norm·w, get_rows of f32 and q8_0 tables and mul_mat with
// f32 weights for real, and declares every other op unsupported so EdgeHAL falls back for those.
//
// Build: `swift build -c release --product TemplatePlugin` → .build/release/libTemplatePlugin.so.
import EdgeHALPluginABI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Host memory behind an eh_buffer handle.
final class HostMemory {
    let bytes: UnsafeMutableRawPointer
    let size: Int
    init(size: Int) {
        self.size = size
        bytes = .allocate(byteCount: max(size, 1), alignment: 64)
    }
    deinit { bytes.deallocate() }
}

/// A node resolved to host addresses at compile time (the host's node arrays live only for the call).
struct CompiledNode {
    var op: eh_op
    var inputs: [(desc: eh_tensor_desc, address: UnsafeRawPointer)]
    var outputDesc: eh_tensor_desc
    var output: UnsafeMutableRawPointer
}

final class CompiledProgram {
    let nodes: [CompiledNode]
    init(_ nodes: [CompiledNode]) { self.nodes = nodes }
}

/// Handles are retained Swift objects passed as opaque pointers.
func handle<T: AnyObject>(_ object: T) -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(object).toOpaque()) }
func object<T: AnyObject>(_ handle: OpaquePointer, as: T.Type) -> T { Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue() }
func release<T: AnyObject>(_ handle: OpaquePointer, as: T.Type) { Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).release() }

func fail(_ error: UnsafeMutablePointer<eh_error>?, _ message: String) {
    guard let error else { return }
    withUnsafeMutableBytes(of: &error.pointee.message) { raw in
        let bytes = Array(message.utf8.prefix(raw.count - 1)) + [0]
        raw.copyBytes(from: bytes)
    }
}

func copy(_ text: String, into tuple: UnsafeMutableRawBufferPointer) {
    let bytes = Array(text.utf8.prefix(tuple.count - 1)) + [0]
    tuple.copyBytes(from: bytes)
}

func count(_ d: eh_tensor_desc) -> Int { Int(d.ne.0 * d.ne.1 * d.ne.2 * d.ne.3) }
func dims(_ d: eh_tensor_desc) -> [Int] { [Int(d.ne.0), Int(d.ne.1), Int(d.ne.2), Int(d.ne.3)] }

// MARK: - The ABI's functions

/// What this backend runs, by op code and types; everything else (and unknown codes) is unsupported.
func supportsNode(_ node: UnsafePointer<eh_node>) -> Bool {
    let n = node.pointee
    guard let inputs = n.inputs else { return false }
    func type(_ i: Int) -> Int32 { Int32(inputs[i].desc.type) }
    switch Int32(n.op.code) {
    case EH_OP_ADD, EH_OP_MUL, EH_OP_RMS_NORM_MUL, EH_OP_MUL_MAT: return type(0) == EH_TYPE_F32 && type(1) == EH_TYPE_F32
    case EH_OP_SCALE, EH_OP_SILU, EH_OP_RMS_NORM: return type(0) == EH_TYPE_F32
    case EH_OP_GET_ROWS: return (type(0) == EH_TYPE_F32 || type(0) == EH_TYPE_Q8_0) && type(1) == EH_TYPE_I32
    default: return false
    }
}

func run(_ n: CompiledNode) {
    let y = n.output.assumingMemoryBound(to: Float.self)
    let x = n.inputs[0].address.assumingMemoryBound(to: Float.self)
    let total = count(n.outputDesc)
    switch Int32(n.op.code) {
    case EH_OP_ADD, EH_OP_MUL:
        let b = n.inputs[1].address.assumingMemoryBound(to: Float.self)
        let (ne, be) = (dims(n.inputs[0].desc), dims(n.inputs[1].desc))
        let add = Int32(n.op.code) == EH_OP_ADD
        var i = 0
        for i3 in 0..<ne[3] { for i2 in 0..<ne[2] { for i1 in 0..<ne[1] {
            let row = b + (((i3 % be[3]) * be[2] + i2 % be[2]) * be[1] + i1 % be[1]) * be[0]
            for i0 in 0..<ne[0] {
                y[i] = add ? x[i] + row[i0 % be[0]] : x[i] * row[i0 % be[0]]
                i += 1
            }
        } } }
    case EH_OP_SCALE:
        for i in 0..<total { y[i] = x[i] * n.op.f.0 }
    case EH_OP_SILU:
        for i in 0..<total { y[i] = x[i] / (1 + expf(-x[i])) }
    case EH_OP_RMS_NORM, EH_OP_RMS_NORM_MUL:
        let w = Int32(n.op.code) == EH_OP_RMS_NORM_MUL ? n.inputs[1].address.assumingMemoryBound(to: Float.self) : nil
        let k = Int(n.inputs[0].desc.ne.0)
        for r in 0..<(total / k) {
            var sum = 0.0
            for i in 0..<k { sum += Double(x[r * k + i]) * Double(x[r * k + i]) }
            let denominator = (sum / Double(k) + Double(n.op.f.0)).squareRoot()
            for i in 0..<k {
                let v = Double(x[r * k + i]) / denominator
                y[r * k + i] = Float(w.map { v * Double($0[i]) } ?? v)
            }
        }
    case EH_OP_GET_ROWS:
        let table = n.inputs[0]
        let ids = n.inputs[1].address.assumingMemoryBound(to: Int32.self)
        let (k, rows) = (Int(table.desc.ne.0), Int(table.desc.ne.1))
        let q8 = Int32(table.desc.type) == EH_TYPE_Q8_0
        let rowBytes = q8 ? k / 32 * 34 : k * 4
        for j in 0..<Int(n.inputs[1].desc.ne.0) {
            let dst = y + j * k
            guard ids[j] >= 0 && Int(ids[j]) < rows else { dst.update(repeating: .nan, count: k); continue }
            let row = table.address + Int(ids[j]) * rowBytes
            if !q8 { dst.update(from: row.assumingMemoryBound(to: Float.self), count: k); continue }
            for b in 0..<(k / 32) {   // q8_0: fp16 scale, then 32 signed codes
                let block = row + b * 34
                let d = Float(Float16(bitPattern: block.loadUnaligned(as: UInt16.self)))
                for q in 0..<32 { dst[b * 32 + q] = d * Float(block.load(fromByteOffset: 2 + q, as: Int8.self)) }
            }
        }
    case EH_OP_MUL_MAT:
        let a = x, b = n.inputs[1].address.assumingMemoryBound(to: Float.self)
        let (ae, be) = (dims(n.inputs[0].desc), dims(n.inputs[1].desc))
        let (k, m, r2, r3) = (ae[0], ae[1], be[2] / ae[2], be[3] / ae[3])
        for i3 in 0..<be[3] { for i2 in 0..<be[2] { for j in 0..<be[1] {
            let column = b + ((i3 * be[2] + i2) * be[1] + j) * k
            for i in 0..<m {
                let row = a + (((i3 / r3) * ae[2] + i2 / r2) * m + i) * k
                var sum: Float = 0
                for q in 0..<k { sum += row[q] * column[q] }
                y[((i3 * be[2] + i2) * be[1] + j) * m + i] = sum
            }
        } } }
    default:
        break
    }
}

final class Device {}

/// The function table, built once and never freed; `edgehal_plugin_entry` returns it.
nonisolated(unsafe) let table: UnsafeMutablePointer<eh_plugin> = {
    let t = UnsafeMutablePointer<eh_plugin>.allocate(capacity: 1)
    var p = eh_plugin()
    p.abi_major = UInt32(EDGEHAL_PLUGIN_ABI_MAJOR)
    p.abi_minor = UInt32(EDGEHAL_PLUGIN_ABI_MINOR)
    p.name = UnsafePointer(strdup("swifttemplate"))
    p.version = UnsafePointer(strdup("1.0.0"))
    p.probe = { devices, capacity, count, _ in
        count?.pointee = 1
        if let devices, capacity > 0 {
            devices.pointee = eh_device_info()
            withUnsafeMutableBytes(of: &devices.pointee.name) { copy("Swift template (host memory, scalar Swift)", into: $0) }
            withUnsafeMutableBytes(of: &devices.pointee.features) { copy("template swift-abi", into: $0) }
            devices.pointee.kind = UInt32(EH_KIND_CPU)
            devices.pointee.compute_units = 1
        }
        return EH_OK
    }
    p.device_open = { index, device, error in
        guard index == 0 else { fail(error, "the Swift template has one device (0)"); return EH_FAILED }
        device?.pointee = handle(Device())
        return EH_OK
    }
    p.device_close = { device in if let device { release(device, as: Device.self) } }
    p.supports = { _, node in node.map { supportsNode($0) ? 1 : 0 } ?? 0 }
    p.buffer_create = { _, bytes, buffer, _ in
        buffer?.pointee = handle(HostMemory(size: Int(bytes)))
        return EH_OK
    }
    p.buffer_free = { _, buffer in if let buffer { release(buffer, as: HostMemory.self) } }
    p.buffer_write = { _, buffer, offset, bytes, count, error in
        let memory = object(buffer!, as: HostMemory.self)
        guard Int(offset) + Int(count) <= memory.size, let bytes else { fail(error, "write outside the buffer"); return EH_FAILED }
        (memory.bytes + Int(offset)).copyMemory(from: bytes, byteCount: Int(count))
        return EH_OK
    }
    p.buffer_read = { _, buffer, offset, bytes, count, error in
        let memory = object(buffer!, as: HostMemory.self)
        guard Int(offset) + Int(count) <= memory.size, let bytes else { fail(error, "read outside the buffer"); return EH_FAILED }
        bytes.copyMemory(from: memory.bytes + Int(offset), byteCount: Int(count))
        return EH_OK
    }
    p.program_compile = { _, nodes, count, program, error in
        var compiled: [CompiledNode] = []
        for i in 0..<Int(count) {
            let node = nodes! + i
            guard supportsNode(node), let inputs = node.pointee.inputs else {
                fail(error, "program_compile got an op this plugin declared unsupported")
                return EH_UNSUPPORTED
            }
            func address(_ t: eh_tensor) -> UnsafeMutableRawPointer { object(t.buffer!, as: HostMemory.self).bytes + Int(t.offset) }
            compiled.append(CompiledNode(
                op: node.pointee.op,
                inputs: (0..<Int(node.pointee.input_count)).map { (inputs[$0].desc, UnsafeRawPointer(address(inputs[$0]))) },
                outputDesc: node.pointee.output.desc, output: address(node.pointee.output)))
        }
        program?.pointee = handle(CompiledProgram(compiled))
        return EH_OK
    }
    p.program_run = { _, program, _ in
        for n in object(program!, as: CompiledProgram.self).nodes { run(n) }
        return EH_OK
    }
    p.program_free = { _, program in if let program { release(program, as: CompiledProgram.self) } }
    t.initialize(to: p)
    return t
}()

@_cdecl("edgehal_plugin_entry")
public func edgehalPluginEntry() -> UnsafePointer<eh_plugin> { UnsafePointer(table) }
