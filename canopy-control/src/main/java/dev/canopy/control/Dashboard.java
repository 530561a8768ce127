package dev.canopy.control;

/** The dashboard's rules for browsers: its pages load scripts, styles and images from this server only. */
final class Dashboard {
    /** No inline script or style, nothing from elsewhere, never framed by another site. */
    static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    private Dashboard() { }
}
