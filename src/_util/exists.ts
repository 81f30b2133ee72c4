/** Options for {@linkcode exists} and {@linkcode existsSync}. */
export interface ExistsOptions {
  /**
   * Only a regular file counts (a folder at `path` reads as absent).
   *
   * @default {false}
   */
  isFile?: boolean;
}

/**
 * Tells whether something exists at `path`, following symlinks (a dangling link reads as
 * absent). Errors other than "not found" (a denied permission, say) are thrown.
 */
export async function exists(path: string, options: ExistsOptions = {}): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return !options.isFile || info.isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The synchronous {@linkcode exists}, for code that runs before anything async can. */
export function existsSync(path: string, options: ExistsOptions = {}): boolean {
  try {
    const info = Deno.statSync(path);
    return !options.isFile || info.isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
