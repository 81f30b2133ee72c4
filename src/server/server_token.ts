import { readEnv, type ServerConfig } from "../config/mod.ts";

/**
 * The bearer token of the endpoint, from the variable `server.token_env` names; an empty
 * value counts as unset, so `EDGELLM_TOKEN=` cannot turn into a token everyone knows.
 */
export function readServerToken(server: Pick<ServerConfig, "token_env">): string | undefined {
  const token = readEnv([server.token_env])[server.token_env];
  return token === "" ? undefined : token;
}
