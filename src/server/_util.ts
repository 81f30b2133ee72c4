import { errorMessage } from "../_util/error_message.ts";
import { HttpError } from "./http_error.ts";

/**
 * Parses a request body as JSON.
 *
 * @throws {HttpError} 400 saying why it is not JSON.
 */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(
      400,
      "bad_request",
      `Cannot parse the request body as JSON: ${errorMessage(error)}; send a JSON object`,
    );
  }
}
