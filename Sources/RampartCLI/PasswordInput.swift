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
        FileHandle.standardError.write(Data(text.utf8))
        var saved = termios()
        let canHideEcho = tcgetattr(STDIN_FILENO, &saved) == 0
        if canHideEcho {
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        }
        defer {
            if canHideEcho { _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved) }
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else {
            throw ValidationError("no password entered")
        }
        return line
    }
}
