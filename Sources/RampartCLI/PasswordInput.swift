import ArgumentParser
import Foundation
import RampartTLS

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads key passwords for `rampart cert`: never from arguments (they show in `ps` and shell
/// history), only from standard input — one line per password — or, when standard input is a
/// terminal, from a prompt with echo off. Passwords are never printed.
enum PasswordInput {
    /// Reads one password; `what` names it in the prompt and errors. A new password is asked twice
    /// on a terminal.
    static func read(_ what: String, option: String, confirm: Bool) throws -> TLSConfiguration.KeyPassword {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("\(option): no \(what) on standard input (one line per password)")
            }
            return TLSConfiguration.KeyPassword(line.hasSuffix("\r") ? String(line.dropLast()) : line)
        }
        let first = try prompt("\(what.prefix(1).uppercased() + what.dropFirst()): ")
        guard !first.isEmpty else { throw ValidationError("\(option): the \(what) is empty") }
        if confirm {
            let second = try prompt("Repeat the \(what): ")
            guard first == second else { throw ValidationError("\(option): the two \(what)s differ") }
        }
        return TLSConfiguration.KeyPassword(first)
    }

    /// Prints `text` on stderr and reads a line from the terminal without echo.
    private static func prompt(_ text: String) throws -> String {
        guard let line = HiddenInput.readLine(from: STDIN_FILENO, promptingOn: STDERR_FILENO, prompt: text) else {
            throw ValidationError("no password entered")
        }
        return String(decoding: line, as: UTF8.self)
    }
}

/// The no-echo terminal prompt of `rampart cert` (key passwords) and `rampart user` (SCRAM passwords).
enum HiddenInput {
    /// Writes `prompt` to `output` and reads one line from `input` with echo off (restored afterwards;
    /// `input` need not be a terminal), then ends the line on `output`. The line comes without its
    /// line ending and carriage returns; nil when the input ended before any byte.
    static func readLine(from input: Int32, promptingOn output: Int32, prompt: String) -> [UInt8]? {
        _ = prompt.withCString { write(output, $0, strlen($0)) }
        var saved = termios()
        let haveTerminal = tcgetattr(input, &saved) == 0
        if haveTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            _ = tcsetattr(input, TCSAFLUSH, &quiet)
        }
        defer {
            if haveTerminal { _ = tcsetattr(input, TCSAFLUSH, &saved) }
            _ = write(output, "\n", 1)
        }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        var readAny = false
        while read(input, &byte, 1) == 1 {
            readAny = true
            if byte == UInt8(ascii: "\n") { break }
            if byte != UInt8(ascii: "\r") { bytes.append(byte) }
        }
        return readAny ? bytes : nil
    }
}
