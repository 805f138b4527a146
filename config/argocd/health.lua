-- Argo CD health check for opennebula.io/OpenNebulaFrontend.
-- A status older than the spec is never Healthy: status.observedGeneration and each
-- condition's observedGeneration must have caught up with metadata.generation.
local hs = {}
local gen = obj.metadata.generation or 0

if obj.status == nil or obj.status.observedGeneration == nil or obj.status.observedGeneration < gen then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(gen)
  return hs
end

local conditions = {}
for _, c in ipairs(obj.status.conditions or {}) do
  conditions[c.type] = c
end

local function current(c)
  return c ~= nil and (c.observedGeneration == nil or c.observedGeneration >= gen)
end

local paused = conditions["Paused"]
if current(paused) and paused.status == "True" then
  hs.status = "Suspended"
  hs.message = paused.message or "Reconciliation is paused"
  return hs
end

local degraded = conditions["Degraded"]
if current(degraded) and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = (degraded.reason or "Degraded") .. ": " .. (degraded.message or "")
  return hs
end

local progressing = conditions["Progressing"]
if current(progressing) and progressing.status == "False" and progressing.reason == "ReconcileFailed" then
  hs.status = "Degraded"
  hs.message = "ReconcileFailed: " .. (progressing.message or "")
  return hs
end

local ready = conditions["Ready"]
if current(ready) and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end

hs.status = "Progressing"
if current(progressing) and progressing.status == "True" and progressing.message ~= nil then
  hs.message = progressing.message
elseif current(ready) and ready.message ~= nil then
  hs.message = ready.message
else
  hs.message = "Waiting for the frontend to become Ready"
end
return hs
