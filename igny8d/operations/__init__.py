"""The AI operations, one module each (admit / read / compute / save), run by `lifecycle`.

The composition root (`igny8d/context.py`) registers them as job kinds; the handlers turn
each into its 202 action (`handlers/resource.ai_action`).
"""
