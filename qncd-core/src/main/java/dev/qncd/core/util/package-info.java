/** Small shared utilities: atomic file writes. */
package dev.qncd.core.util;
