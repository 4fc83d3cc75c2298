import { packageConfig } from "../../tooling/tsup.preset.mjs";

export default packageConfig();
