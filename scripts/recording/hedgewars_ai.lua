-- Hedgewars AI-only game for scripts/record_gameplay.sh (hedgewars mode). The recipe copies this
-- file into a per-clip user-data folder with the @...@ fields filled in, and starts hwengine with a
-- two-message "saved game" (TS + "escript <this file>"): the engine loads it like a save with no
-- moves, runs onGameInit below and plays on, and every hedgehog is a bot, so nobody needs to
-- press a key. The camera follows the active hedgehog and its shots by itself.
local nTeams = @TEAMS@
local botLevel = @BOTLEVEL@
local colors = {0xff0000, 0x4980c1, 0x1fe019, 0xe0d41f}
local names = {"Red", "Blue", "Green", "Yellow"}

function onGameInit()
    ClearGameFlags()
    EnableGameFlags(gfRandomOrder)
    Seed = @SEED@
    MapGen = @MAPGEN@
    MapFeatureSize = @FEATURE@
    TemplateFilter = 0
    Theme = "@THEME@"
    TurnTime = 25000
    Explosives = 3
    MinesNum = 4
    MinesTime = 3000
    CaseFreq = 3
    HealthCaseProb = 30
    SuddenDeathTurns = 12
    for t = 1, nTeams do
        AddTeam(names[t], colors[t], "Simple", "Island", "Default", "cpu")
        for h = 1, 4 do AddHog(names[t] .. " " .. h, botLevel, 100, "NoHat") end
    end
end

function onAmmoStoreInit()
    -- weapons with distinct sounds: rockets, grenades, guns, melee, air strikes, mines, dynamite
    for _, a in ipairs({amBazooka, amGrenade, amClusterBomb, amShotgun, amDEagle, amFirePunch, amBaseballBat,
                        amDynamite, amMine, amMortar, amWatermelon, amHellishBomb, amMolotov, amSniperRifle}) do
        SetAmmo(a, 9, 0, 0, 0)
    end
    SetAmmo(amAirAttack, 2, 0, 2, 0)
    SetAmmo(amSkip, 9, 0, 0, 0)
end
