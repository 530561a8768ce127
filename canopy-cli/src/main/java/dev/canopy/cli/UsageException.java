package dev.canopy.cli;

import dev.canopy.api.CanopyException;

/** A command line that parses but makes no sense (exit code 2). */
final class UsageException extends CanopyException {
    UsageException(String message, String fix) {
        super("cli.usage", message, fix);
    }
}
