"""Every user-facing text, one dictionary per language: Russian first, English as the fallback.

Handlers and frontends never hard-code a sentence; they call :func:`t` with a key.
"""

from __future__ import annotations

RU: dict[str, str] = {
    "start": (
        "Привет, {name}! Я Мольберт 🎨 — рисую картинки по описанию и узнаю, что на фото.\n\n"
        "• /imagine <описание> — нарисую картинку, например: /imagine кот в космосе\n"
        "• пришлите фото — скажу, что на нём\n"
        "• фото с подписью «кошка, собака, медведь» — выберу из ваших вариантов\n\n"
        "Подробнее: /help"
    ),
    "help": (
        "Как пользоваться Мольбертом:\n\n"
        "🎨 Рисование\n"
        "/imagine <описание> (/нарисуй, /draw) — картинка по описанию на русском (или английском).\n"
        "Примеры:\n"
        "  /imagine кот в космосе\n"
        "  /imagine акварельный пейзаж с берёзами на закате\n"
        "  /imagine уютная кофейня в дождливый вечер --style масло --n 4\n\n"
        "Параметры после описания:\n"
        "  --ar 16:9 — пропорции (от 1:4 до 4:1)\n"
        "  --n 4 — сколько картинок (1–4; без него — сколько обычно рисует модель или задано в /settings)\n"
        "  --style аниме — стиль: фото, аниме, акварель, масло, киберпанк, пиксель-арт, 3d; нет — без стиля\n"
        "  --no люди — чего не должно быть\n"
        "  --seed 42 — повторить картинку; --steps 30 — шаги; --best 8 — выбрать лучшие из 8\n"
        "  --up 4 — сразу увеличить готовую картинку в 2 или 4 раза\n"
        "  --enhance — ✨ сначала дописать описание подробнее (свет, фон, стиль), потом нарисовать\n"
        "  --model — другая модель, если бот их предлагает (список — в ответе на неизвестную)\n"
        "  По-русски: --пропорции, --сколько, --стиль, --без, --зерно, --шаги, --лучшие, --увеличить, "
        "--улучшить, --модель, --сила.\n\n"
        "🔘 Кнопки под картинкой\n"
        "U — картинка целиком, V — сильная вариация, ~ — лёгкая (почти как было), 🔄 — заново, 🖋 — изменить, "
        "✨ — перерисовать по улучшенному описанию.\n"
        "Под одной картинкой: ⤴ ×2 и ⤴ ×4 — увеличить; 🔍 ×1.5 и 🔍 ×2 — отдалить (края дорисуются); "
        "⬅️ ➡️ ⬆️ ⬇️ — расширить в эту сторону.\n"
        "👍 / 👎 — оценить результат (и ответ про фото тоже).\n"
        "Чтобы изменить картинку, ответьте на неё: «а без шляпы», «добавь луну», «сделай зимой», "
        "«пусть будет акварель», --ar 9:16 или новое описание (seed останется тем же).\n\n"
        "📷 Рисование по фото\n"
        "Фото с подписью /imagine <описание> [--параметры] или /imagine <описание> ответом на фото — "
        "нарисую, начиная с этого фото, в его пропорциях (--ar их меняет), например:\n"
        "  /imagine то же, но зимой --сила 0.4\n"
        "  --strength 0.4 (--сила) — насколько уйти от фото: от 0.05 (почти как фото) до 1; по умолчанию 0.6.\n\n"
        "🔎 Фото\n"
        "Пришлите фото — я назову, что на нём, с процентами.\n"
        "Подпишите фото вариантами через запятую, точку с запятой или с новой строки — "
        "я выберу из них: «кошка, собака, медведь». Один вариант — отвечу «да» или «нет».\n"
        "/classify (/распознай) кошка, собака — ответом на любое фото в чате.\n"
        "/describe (/опиши) ответом на фото или подписью к фото — опишу его словами и предложу готовые "
        "/imagine; кнопка 🎨 под ответом рисует строку с тем же номером.\n"
        "Альбом с подписью «самый смешной мем» — расставлю фото по порядку.\n"
        "/labels (/метки) — метки для фото в этом чате (задают админы).\n"
        "/teach Мурка (/научи) — альбом из 1–10 фото с такой подписью научит меня новому классу (админы); "
        "/classes (/классы) — список, /forget_class Мурка (/забудь_класс) — забыть.\n\n"
        "⚙️ Прочее\n"
        "/settings (/настройки) — настройки чата для админов: стиль и пропорции по умолчанию, фильтр 18+, "
        "распознавание всех фото, кто может нажимать кнопки, язык, ✨ и сбор оценок.\n"
        "/queue (/очередь) — ваши задачи в очереди, /cancel (/отмена) — отменить их.\n"
        "/forget (/забудь_меня) — удалить ваши оценки 👍/👎 и нажатия кнопок, которые я храню.\n\n"
        "Задачи выполняются по очереди; я сразу скажу место в очереди и пришлю результат ответом."
    ),
    "imagine_empty": ("Напишите, что нарисовать, после команды. Например:\n/imagine кот в космосе"),
    "prompt_too_long": "Описание слишком длинное: {length} символов, а можно не больше {limit}. Сократите его, пожалуйста.",
    "queued": "⏳ Задача в очереди, место: {position}. Пришлю результат, как только он будет готов.",
    "queued_next": "⏳ Задача принята, вы первые в очереди. Пришлю результат, как только он будет готов.",
    "queue_unavailable": "😔 Очередь задач сейчас недоступна. Попробуйте, пожалуйста, через минуту.",
    "image_caption": "🎨 {prompt}\n\nseed {seed} · {model} · {seconds} с\n{command}",
    "variation_source_gone": "Картинка для вариаций уже удалена (их хранят сутки). Нажмите 🔄 или отправьте /imagine.",
    "variations_unsupported": "Эта модель не умеет делать вариации. Нажмите 🔄, чтобы нарисовать заново.",
    "out_of_memory": "😔 Не хватило памяти на такую картинку. Попросите меньше картинок (--n) "
    "или другой формат (--ar), без --best.",
    "photo_gone": "Фото не дождалось очереди и удалено. Пришлите его, пожалуйста, ещё раз.",
    "imagine_photo_gone": "Фото, с которого начиналась картинка, уже удалено (его хранят сутки, как и картинки). "
    "Пришлите фото с подписью /imagine <описание> ещё раз.",
    "imagine_photo_unsupported": "Эта модель рисует только по описанию, не по фото. Отправьте /imagine без фото.",
    "imagine_photo_impossible": "Здесь нет модели, которая рисует по фото: «{model}» умеет только по описанию. "
    "Отправьте /imagine без фото.",
    "imagine_from_photo": "📷 По фото, сила {strength} (меньше — ближе к фото); 🔄 рисует по тому же фото.",
    "imagine_rerouted": "Модель «{asked}» не рисует по фото, поэтому рисовала «{used}».",
    "option_strength": "--strength: «{value}» не подходит, нужно число от 0.05 до 1 (меньше — ближе к фото), "
    "например --strength 0.4.",
    "option_strength_needs_photo": "--strength нужен только для рисования по фото: пришлите фото с подписью "
    "/imagine <описание> --strength 0.4.",
    "classify_header": "🔎 Что я вижу на фото:",
    "classify_header_labels": "🔎 Из ваших вариантов больше всего подходит:",
    "classify_uncertain": "🤔 Не уверен, что это. Самые близкие варианты:",
    "classify_yes": "✅ Да, похоже на «{label}» ({percent}).",
    "classify_no": "❌ Скорее нет: это не очень похоже на «{label}». Больше похоже на «{best}» ({percent}).",
    "classify_reply_to_photo": "Отправьте /classify ответом на фото, можно с вариантами: /classify кошка, собака",
    "rank_header": "🏆 «{query}»: лучше всего подходит фото {number}.",
    "rank_photo": "фото {number}",
    "rank_no_query": "Напишите в подписи к альбому, что в нём искать, например: самый смешной мем",
    "rank_photo_count": "Сравнить можно от 2 до {limit} фото в одном альбоме.",
    "labels_too_many": "Слишком много вариантов: {count}, а можно не больше {limit}.",
    "label_too_long": "Вариант «{label}…» слишком длинный: можно не больше {limit} символов.",
    "download_failed": "Не получилось скачать файл: возможно, его уже удалили. Пришлите его, пожалуйста, ещё раз.",
    "image_unreadable": "Не получилось открыть картинку: файл повреждён или это не изображение. Пришлите, пожалуйста, фото (JPEG, PNG, WebP или HEIC).",
    "image_unsupported": "Формат {format} я не читаю. Пришлите, пожалуйста, фото в JPEG, PNG, WebP или HEIC.",
    "image_too_many_pixels": "Картинка слишком большая: можно не больше {limit} мегапикселей. Уменьшите её, пожалуйста.",
    "file_too_big": "Файл слишком большой ({size_mb} МБ): боты Telegram могут скачивать файлы не больше {limit_mb} МБ.",
    "document_not_image": "Это не похоже на картинку ({mime}). Я распознаю только изображения: JPEG, PNG или WebP.",
    "job_failed": "😔 Не получилось выполнить задачу. Попробуйте ещё раз чуть позже. Код ошибки: {ref}",
    "unknown_command": "Такой команды я не знаю. Список команд: /help",
    "unsupported_message": "Такое я не понимаю. Я рисую по описанию — /imagine кот в космосе — и узнаю, что на фото: пришлите фото. Справка: /help",
    "text_hint": "Чтобы я нарисовал картинку, начните с /imagine, например: /imagine кот в космосе. Справка: /help",
    "option_unknown": "Не знаю параметра {option}. Доступны: {options}. Подробнее: /help",
    "option_needs_value": "После {option} нужно значение, например: {example}",
    "option_twice": "Параметр {option} указан дважды. Оставьте одно значение.",
    "option_ar": "Пропорции «{value}» не подходят: укажите --ar Ш:В, например 1:1, 3:2, 16:9 или 9:16 (от 1:4 до 4:1).",
    "option_range": "{option}: «{value}» не подходит, нужно целое число от {low} до {high}.",
    "option_style": "Стиля «{value}» нет. Доступные стили: {styles}.",
    "option_model": "Модели «{value}» здесь нет. Доступные модели: {models}.",
    "option_model_single": "У этого бота одна модель, --model не нужен.",
    "option_too_long": "{option}: слишком длинно, можно не больше {limit} символов.",
    "option_best_below_n": "--best {best} меньше, чем --n {count}: из скольких выбирать, должно быть не меньше, чем сколько показать.",
    "button_stale": "Эта кнопка устарела: результат уже удалён. Отправьте /imagine заново.",
    "remix_empty": (
        "Напишите, что изменить, например: «а без шляпы», «добавь луну», «сделай зимой», «пусть будет акварель» "
        "или --ar 9:16."
    ),
    "remix_stale": "Этот запрос уже забыт (их хранят 30 дней). Отправьте /imagine заново.",
    "remix_prompt": (
        "🖋 Ответьте на это сообщение, что изменить: «а без шляпы», «добавь луну», «сделай зимой», "
        "«пусть будет акварель», --ar 9:16 или новое описание. Сейчас:\n{command}"
    ),
    "remix_prompt_sent": "Напишите ответом, что изменить",
    "labels_current": "Метки для фото в этом чате: {labels}.\nИзменить (админы): /labels кошка, собака · сбросить: /labels -",
    "labels_default": "В этом чате фото распознаются по общему списку меток. Админы могут задать свои: /labels кошка, собака",
    "labels_set": "Готово: фото в этом чате теперь распознаются среди {count} меток: {labels}.",
    "labels_reset": "Готово: снова общий список меток.",
    "labels_admins_only": "Менять метки чата могут только его администраторы.",
    "labels_need_two": "Нужно хотя бы две метки через запятую, например: /labels кошка, собака",
    "access_denied": "Извините, здесь я не работаю. Если это ошибка, напишите администратору бота.",
    "operators_only": "Эта команда — только для администраторов бота.",
    "stats": "📊 Сегодня задач: {jobs_today}\nВ очереди: картинок {waiting_pictures}, фото {waiting_photos}\nВыполняется: {running}\nВоркеров онлайн: {workers}\nОбычное время: картинка {picture_seconds} с, фото {photo_seconds} с",
    "queue_empty": "У вас нет задач в очереди в этом чате.",
    "queue_header": "Ваши задачи:",
    "queue_picture": "🎨 «{prompt}»",
    "queue_photo": "🔎 фото",
    "queue_running": "{number}. {what} — выполняется",
    "queue_waiting": "{number}. {what} — место в очереди: {position}.",
    "cancel_done": "✖ Отменено задач: {count}.",
    "cancelled": "✖ Задача отменена.",
    "button_cancel": "✖ Отменить",
    "cancel_pressed": "Отменяю задачу.",
    "cancel_not_yours": "Отменить задачу может только тот, кто её отправил.",
    "cancel_too_late": "Эта задача уже завершена — отменять нечего.",
    "limit_concurrent": "Задач в работе у вас уже столько, сколько можно: {count}. Дождитесь результата — и присылайте следующую.",
    "limit_rate": "Слишком часто: лимит — {limit} в минуту. Попробуйте через {seconds} с.",
    "limit_daily": "Лимит на сегодня исчерпан: {limit} в сутки. Он обновится примерно через {hours} ч.",
    "limit_chat": "В этом чате сейчас слишком много задач. Попробуйте через {seconds} с.",
    "queue_full": "Сейчас очередь переполнена (задач в ней: {length}). Попробуйте, пожалуйста, через несколько минут.",
    "prompt_blocked": "Извините, такое я рисовать не буду. Попробуйте, пожалуйста, другое описание.",
    "images_hidden": "⚠️ Скрыто фильтром: {count} из {total}.",
    "negative_ignored": (
        "ℹ️ «--no» не учтён: эта модель рисует без отрицательных подсказок. Лучше опишите, что должно быть на картинке."
    ),
    "button_not_yours": "Эти кнопки — для автора запроса. Чтобы нарисовать своё, отправьте /imagine.",
    "button_image_gone": "Эта картинка уже удалена (их хранят сутки). Нажмите 🔄, чтобы нарисовать заново.",
    "button_accepted": "Принято! Ставлю в очередь.",
    "button_sending": "Отправляю картинку в полном размере.",
    "button_repeated": "Уже выполняю — одного нажатия достаточно.",
    "upscale_caption": "🖼 Картинка {number}: {prompt}",
    "progress": "⏳ Рисую… {percent}%",
    "time_left": ", осталось ≈ {seconds} с",
    "wait_estimate": " Ожидание ≈ {seconds} с.",
    "cmd_start": "Начать",
    "cmd_help": "Справка и примеры",
    "cmd_imagine": "Нарисовать картинку по описанию",
    "cmd_classify": "Распознать фото (ответом на фото)",
    "cmd_queue": "Мои задачи в очереди",
    "cmd_labels": "Метки для фото в этом чате",
    "cmd_cancel": "Отменить мои задачи",
    "cmd_settings": "Настройки чата (для админов)",
    "settings_title": "⚙️ Настройки этого чата",
    "settings_choose": "Что изменить?",
    "settings_field_menu": "{field} — сейчас: {value}. Выберите:",
    "settings_back": "← Назад",
    "settings_saved": "Сохранено ✓",
    "settings_admins_only": "Настройки чата могут менять только его администраторы.",
    "settings_stale": "Эта кнопка устарела. Откройте меню заново: /settings",
    "settings_style": "Стиль по умолчанию",
    "settings_aspect": "Пропорции по умолчанию",
    "settings_images": "Картинок на запрос",
    "settings_nsfw": "Фильтр 18+",
    "settings_classify": "Распознавать все фото",
    "settings_buttons": "Кнопки под картинками",
    "settings_lang": "Язык",
    "settings_button_style": "🎨 Стиль",
    "settings_button_aspect": "📐 Пропорции",
    "settings_button_images": "🖼 Сколько",
    "settings_button_nsfw": "🔞 Фильтр",
    "settings_button_classify": "🔎 Фото",
    "settings_button_buttons": "🔘 Кнопки",
    "settings_button_lang": "🌐 Язык",
    "settings_style_unset": "как в запросе",
    "settings_aspect_unset": "как в запросе",
    "settings_images_unset": "как у модели",
    "settings_nsfw_strict": "строгий",
    "settings_nsfw_normal": "обычный",
    "settings_nsfw_relaxed": "мягкий",
    "settings_classify_on": "да, все",
    "settings_classify_off": "только адресованные боту",
    "settings_buttons_requester": "только автор",
    "settings_buttons_admins": "автор и админы",
    "settings_buttons_all": "все",
    "settings_lang_unset": "как у пользователя",
    "settings_lang_ru": "русский",
    "settings_lang_en": "English",
    "button_not_yours_admins": "Эти кнопки — для автора запроса и админов чата. Чтобы нарисовать своё, отправьте /imagine.",
    "discord_help": (
        "Как пользоваться Мольбертом:\n\n"
        "🎨 /imagine prompt: <описание> — картинка по описанию на русском (или английском), например: "
        "/imagine prompt: кот в космосе\n"
        "Поля: aspect (пропорции), style (стиль), negative (чего не рисовать), seed (зерно), count (сколько), "
        "enhance (✨ сначала дописать описание подробнее), image (нарисую, начиная с этого фото).\n"
        "В описании работают и --параметры: --ar 16:9, --n 4, --style аниме, --no люди, --seed 42, --steps 30, "
        "--best 8, --up 2 или 4 (увеличить), --enhance, --model, --strength 0.4 (с image: насколько уйти от фото, "
        "0.05–1); по-русски: --пропорции, --сколько, --стиль, --без, --зерно, --шаги, --лучшие, --увеличить, "
        "--улучшить, --модель, --сила.\n\n"
        "🔘 Под картинкой: U — целиком, V — сильная вариация, ~ — лёгкая, 🔄 — заново, 🖋 — изменить (в окне; "
        "«а без шляпы» тоже можно), ✨ — по улучшенному описанию. Под одной картинкой: ⤴ ×2 и ⤴ ×4 — увеличить, "
        "🔍 ×1.5 и 🔍 ×2 — отдалить, ⬅️ ➡️ ⬆️ ⬇️ — расширить. 👍 / 👎 — оценить.\n\n"
        "🔎 /classify image: <картинка> [labels: кошка, собака] — что на ней (или какой из ваших вариантов).\n"
        "/describe image: <картинка> — опишу словами и предложу готовые /imagine (🎨 — нарисовать).\n"
        "/rank query: самый смешной мем image1: … image10: — выберу из 2–10 картинок лучшую.\n"
        "На сообщении с картинками (правая кнопка, на телефоне — долгое нажатие) → Приложения: «Распознать», "
        "«Описать», «Нарисовать по картинке», «Выбрать лучшую по запросу».\n\n"
        "/teach name:Мурка image1:… — научу новому классу по 1–10 картинкам; /classes — список, "
        "/forget_class — забыть.\n"
        "/labels — метки для фото, /settings — настройки канала (меняют те, кто может управлять сервером).\n"
        "/queue — ваши задачи, /cancel — отменить их (или ✖ под сообщением об очереди).\n"
        "/forget — удалить ваши оценки 👍/👎 и нажатия кнопок, которые я храню.\n\n"
        "Задачи выполняются по очереди; я сразу скажу место в очереди и пришлю результат сюда же."
    ),
    "console_help": (
        "Мольберт в терминале — тот же бот, что в Telegram, картинки сохраняются в файлы.\n\n"
        "/imagine <описание> [--параметры] (/нарисуй, /draw) — нарисую картинку, например: /imagine кот в космосе --n 4\n"
        "  параметры: --ar 16:9, --n 4, --style аниме, --no люди, --seed 42, --steps 30, --best 8, --model, "
        "--up 2 или 4 (сразу увеличить)\n"
        "  --enhance (--улучшить) — ✨ сначала дописать описание подробнее\n"
        "  по-русски: --пропорции, --сколько, --стиль, --без, --зерно, --шаги, --лучшие, --увеличить, --модель, --сила\n"
        "/imagine <описание> --from фото.jpg [--strength 0.4] — нарисую, начиная с этого фото\n"
        "/press U1 — кнопка под последней картинкой: U — картинка целиком, V — сильная вариация, "
        "~ — лёгкая (/press ~1), 🔄 — заново, 🖋 — изменить, ✨ — по улучшенному описанию; под одной картинкой "
        "⤴ ×2 и ⤴ ×4 — увеличить, 🔍 ×1.5 и 🔍 ×2 — отдалить, ⬅️ ➡️ ⬆️ ⬇️ — расширить (/press 🔍 ×2, /press ⬅️); "
        "👍 / 👎 — оценить\n"
        "/remix [номер] <что изменить> (/ремикс) — изменить картинку [номер] (без номера — последнюю): "
        "/remix а без шляпы, /remix добавь луну --ar 9:16\n"
        "/classify <файл> [кошка, собака] — что на картинке (или какой из ваших вариантов); "
        "можно просто написать путь к файлу. Путь с пробелами — в кавычках\n"
        "/describe <файл> (/опиши) — опишу картинку словами и предложу готовые /imagine (/press 1 рисует первую)\n"
        "/labels [кошка, собака | -] — метки для картинок по умолчанию\n"
        "/teach Мурка a.jpg b.jpg (/научи) — научить новому классу (1–10 фото); /classes (/классы) — список; "
        "/forget_class Мурка (/забудь_класс)\n"
        "/queue — ваши задачи, /cancel — отменить их\n"
        "/forget (/забудь_меня) — удалить ваши оценки и нажатия\n"
        "Выход — Ctrl-D (дождусь результатов) или Ctrl-C."
    ),
    "console_no_file": "Файла «{path}» нет. Напишите путь к картинке, например: /classify photo.jpg кошка, собака",
    "console_no_button": "Кнопки «{label}» нет. Сейчас есть: {buttons}",
    "console_no_picture": "Картинки [{number}] нет. Изменить можно эти: {pictures}",
    "console_remix": "🖋 Сейчас: {command}\nЧто изменить: /remix {number} <а без шляпы, добавь луну, --ar 9:16…>",
    "discord_remix_modal_title": "Изменить картинку",
    "discord_remix_modal_description": "Описание (или «а без шляпы», «добавь луну»)",
    "discord_remix_modal_options": "Параметры (seed тот же, если не менять)",
    "discord_imagine_empty": "Напишите в поле prompt, что нарисовать, например: кот в космосе (параметры — после описания).",
    "discord_labels_current": (
        "Метки для фото в этом канале: {labels}.\n"
        "Изменить (те, кто может управлять сервером): /labels labels: кошка, собака · сбросить: /labels labels: -"
    ),
    "discord_labels_default": (
        "В этом канале фото распознаются по общему списку меток. "
        "Те, кто может управлять сервером, могут задать свои: /labels labels: кошка, собака"
    ),
    "discord_labels_admins_only": "Менять метки канала могут только те, кто может управлять сервером.",
    "discord_labels_need_two": "Нужно хотя бы две метки через запятую, например: /labels labels: кошка, собака",
    "discord_settings_admins_only": "Настройки канала могут менять только те, кто может управлять сервером.",
    "discord_cmd_classify": "Распознать, что на картинке",
    "discord_opt_prompt": "Что нарисовать, например: кот в космосе",
    "discord_opt_aspect": "Пропорции: ширина к высоте",
    "discord_opt_style": "Стиль: фото, аниме, акварель…",
    "discord_opt_negative": "Чего не должно быть на картинке",
    "discord_opt_seed": "Зерно: то же зерно и описание — та же картинка",
    "discord_opt_count": "Сколько картинок нарисовать (1–4)",
    "discord_opt_image": "Картинка: JPEG, PNG или WebP",
    "discord_opt_labels": "Свои варианты через запятую: кошка, собака, медведь",
    "discord_opt_chat_labels": "Метки через запятую: кошка, собака; «-» — общий список (для админов)",
    "cmd_stats": "Статистика бота (для операторов)",
    "discord_ctx_classify": "Распознать",
    "discord_no_images": "В этом сообщении нет картинок. Выберите сообщение с фото (JPEG, PNG или WebP).",
    "discord_file_too_big": "Файл слишком большой ({size_mb} МБ): я распознаю картинки не больше {limit_mb} МБ.",
    "discord_error": "😔 Что-то пошло не так. Попробуйте, пожалуйста, ещё раз чуть позже.",
    "discord_negative_ignored": (
        "ℹ️ Поле negative (--no) не учтено: эта модель рисует без отрицательных подсказок. "
        "Лучше опишите, что должно быть на картинке."
    ),
    "discord_cmd_rank": "Выбрать из 2–10 картинок лучшую по запросу",
    "discord_opt_query": "Что искать среди картинок, например: самый смешной мем",
    "discord_opt_rank_image": "Картинка для сравнения: JPEG, PNG или WebP",
    "discord_ctx_rank": "Выбрать лучшую по запросу",
    "discord_rank_modal_title": "Выбрать лучшую картинку",
    "discord_rank_modal_label": "Что искать среди картинок?",
    "discord_rank_modal_placeholder": "например: самый смешной мем",
    "discord_opt_imagine_image": "Фото, с которого начать картинку (JPEG, PNG или WebP)",
    "discord_ctx_imagine": "Нарисовать по картинке",
    "discord_imagine_modal_title": "Нарисовать по картинке",
    "discord_imagine_modal_label": "Что нарисовать по этой картинке?",
    "discord_imagine_modal_placeholder": "например: то же, но зимой --strength 0.5",
    "discord_rank_header": "🏆 «{query}»: лучше всего подходит картинка {number} из {count}.",
    "discord_rank_photo": "картинка {number}",
    "discord_rank_no_query": "Напишите, что искать среди картинок, например: самый смешной мем",
    "discord_rank_photo_count": (
        "Сравнить можно от 2 до {limit} картинок: приложите их к /rank (image1, image2…) "
        "или выберите сообщение, где их несколько."
    ),
    # --- the learned re-ranker in /stats (issue #22) ---
    "stats_ranker_live": (
        "🎯 Ранжирование: {name}, обучено на {preferences} выборах — nDCG@1 {ndcg1} против {cosine1} у косинуса"
    ),
    "stats_ranker_cosine": "🎯 Ранжирование: косинус CLIP",
    "stats_ranker_weak": (
        "🎯 Ранжирование: косинус CLIP ({name} не лучше него с нужным запасом: nDCG@1 {ndcg1} против {cosine1})"
    ),
    "stats_ranker_other_clip": "🎯 Ранжирование: косинус CLIP ({name} обучено для другой модели: {clip_model})",
    "stats_ranker_broken": "🎯 Ранжирование: косинус CLIP (новейшее обученное не читается, см. журнал воркера)",
    # Few-shot chat classes (/teach, /classes, /forget_class): handlers/teach.py
    "teach_done": "🎓 Запомнил: {name} ({count} фото). Теперь узнаю это на фото в этом чате; все классы — /classes.",
    "teach_replaced": "🎓 Переучил: {name} ({count} фото) — прежний класс с этим названием заменён новыми фото.",
    "teach_no_name": "Напишите название после команды, например /teach Мурка, и приложите 1–10 фото.",
    "teach_name_too_long": "Название слишком длинное: {length} символов, а можно не больше {limit}.",
    "teach_no_photo": (
        "Нужны фото: пришлите 1–10 фото альбомом с подписью /teach <название> или ответьте /teach <название> на фото."
    ),
    "discord_teach_no_photo": "Приложите к команде 1–10 картинок: /teach name:Мурка image1:…",
    "console_teach_no_photo": "Укажите фото после названия: /teach Мурка a.jpg b.jpg (1–10 файлов).",
    "teach_too_many_photos": "Слишком много фото: {count}, а за раз можно не больше {limit}.",
    "teach_too_many_classes": (
        "В этом чате уже {limit} классов — больше нельзя. Удалите ненужный: /forget_class <название> "
        "(список — /classes)."
    ),
    "teach_admins_only": "Учить и забывать классы в группе могут только её администраторы.",
    "discord_teach_admins_only": "Учить и забывать классы здесь могут только те, кто может управлять сервером.",
    "classes_none": "В этом чате пока нет своих классов. Научите меня: альбом из 1–10 фото с подписью /teach Мурка.",
    "discord_classes_none": "Здесь пока нет своих классов. Научите меня: /teach name:Мурка image1:… (1–10 картинок).",
    "console_classes_none": "Своих классов пока нет. Научите меня: /teach Мурка a.jpg b.jpg (1–10 фото).",
    "classes_header": "🎓 Классы этого чата ({count} из {limit}), узнаю их на фото вместе с метками:",
    "classes_line": "• {name} — {count} фото",
    "forget_class_done": "Забыл класс «{name}».",
    "forget_class_unknown": "Класса «{name}» здесь нет. Список — /classes.",
    "cmd_teach": "Научить новому классу по 1–10 фото",
    "cmd_classes": "Классы, которым научили в этом чате",
    "cmd_forget_class": "Забыть класс",
    "discord_cmd_teach": "Научить новому классу по 1–10 картинкам",
    "discord_opt_class_name": "Название класса, например Мурка",
    "discord_opt_teach_image": "Картинка класса: JPEG, PNG или WebP",
    "discord_cmd_classes": "Классы, которым научили в этом канале",
    "discord_cmd_forget_class": "Забыть класс, которому научили",
    # zoom out and pan (🔍 ×1.5, 🔍 ×2, ⬅️ ➡️ ⬆️ ⬇️ under a single picture; handlers/zoom.py)
    "outpaint_unsupported": (
        "Эта модель не умеет отдалять и расширять картинки (🔍 и стрелки). Нажмите 🔄, чтобы нарисовать заново."
    ),
    "outpaint_source_gone": "Картинка для отдаления уже удалена (их хранят сутки). Нажмите 🔄 или отправьте /imagine.",
    "outpaint_done_o15": "🔍 Отдалила ×1.5: края дорисованы.",
    "outpaint_done_o2": "🔍 Отдалила ×2: края дорисованы.",
    "outpaint_done_l": "⬅️ Расширила влево.",
    "outpaint_done_r": "➡️ Расширила вправо.",
    "outpaint_done_u": "⬆️ Расширила вверх.",
    "outpaint_done_d": "⬇️ Расширила вниз.",
    # --- feedback: 👍/👎, /forget (issue #22) ---
    "feedback_up": "Спасибо! 👍 учтено (передумаете — нажмите 👎).",
    "feedback_down": "Спасибо! 👎 учтено — постараюсь лучше (передумаете — нажмите 👍).",
    "feedback_off": "В этом чате оценки не собираются (админы включают их в /settings).",
    "forget_done": "Готово: всё, что я хранил о ваших оценках и нажатиях здесь ({where}), удалено — записей: {count}.",
    "forget_failed": "Сейчас не получилось удалить ваши записи: база недоступна. Попробуйте чуть позже.",
    "cmd_forget": "Удалить мои оценки и нажатия",
    "settings_feedback": "Сбор оценок (👍/👎, U/V/🔄)",
    "settings_button_feedback": "👍 Оценки",
    "settings_feedback_on": "собирать",
    "settings_feedback_off": "не собирать",
    # --- upscale (⤴ ×2 / ×4, --up; #20) ---
    "upscaled_caption": "⤴ ×{factor} ({model}, {seconds} с): {prompt}",
    "upscaled_note": "⤴ Увеличено в {factor} раза ({model}).",
    "upscaled_document_jpeg": "PNG вышел бы больше {limit} МБ, поэтому файл — JPEG наилучшего качества.",
    "progress_upscaling": "⏳ Увеличиваю в {factor} раза… {percent}%",
    "progress_upscaling_cpu": "\nНа этом сервере нет видеокарты: увеличение займёт несколько минут. ✖ — отменить.",
    "option_up": "--up: «{value}» не подходит, можно увеличить в 2 или 4 раза: --up 2 или --up 4",
    "upscale_again": "Эта картинка уже увеличена: больше не получится.",
    "upscale_unavailable": "Увеличение сейчас недоступно на этом сервере. Картинки можно рисовать как обычно.",
    "upscale_too_big": "Картинка слишком большая, чтобы увеличить её ещё раз. Попробуйте ×2.",
    "upscale_source_gone": "Картинка для увеличения уже удалена (их хранят сутки). Нажмите 🔄, чтобы нарисовать заново.",
    # ✨ prompt enhancement (--enhance, the ✨ button, /settings "enhance")
    "option_flag_value": "{option} пишется без значения, описание — до него, например: {example}",
    "settings_enhance": "✨ Улучшение описаний",
    "settings_button_enhance": "✨ Описания",
    "settings_enhance_off": "по --улучшить и ✨",
    "settings_enhance_ask": "предлагать ✨",
    "settings_enhance_always": "всегда",
    "button_enhance": "✨",
    "enhance_hint": "✨ — дописать описание подробнее и перерисовать",
    "enhanced_from": "✨ Описание улучшено из «{prompt}»",
    "enhance_fallback": "✨ Улучшить описание не вышло ({why}) — нарисовано по вашему.",
    "enhance_why_failed": "ошибка модели",
    "enhance_why_timeout": "модель не успела",
    "enhance_why_unusable": "ответ модели не подошёл",
    "enhance_why_blocked": "в ответе было запрещённое слово",
    "enhance_why_off": "улучшение не настроено",
    "enhanced_full": "✨ Улучшенное описание целиком:\n{command}",
    "discord_opt_enhance": "✨ Сначала дописать описание подробнее, потом нарисовать",
}

# --- /describe (#21): a photo → a Russian description and ready /imagine lines, each with a 🎨 button ---
RU.update(
    {
        "describe_no_photo": (
            "Отправьте /describe (или /опиши) ответом на фото или подписью к фото — я опишу его словами "
            "и предложу готовые запросы /imagine."
        ),
        "describe_answer": "📝 Похоже, это {subject}{traits}.\n\nГотовые запросы (🎨 — нарисовать):\n{lines}",
        "describe_traits": " — {traits}",
        "describe_line": "{number}. {command}",
        "describe_command": "/imagine {prompt}",
        "discord_describe_command": "/imagine prompt: {prompt}",
        "describe_button": "🎨 {number}",
        "cmd_describe": "Описать фото словами (ответом на фото)",
        "discord_cmd_describe": "Описать картинку словами и предложить запросы /imagine",
        "discord_opt_describe_image": "Картинка, которую описать: JPEG, PNG или WebP",
        "discord_ctx_describe": "Описать",
        "console_no_describe_file": "Файла «{path}» нет. Напишите путь к картинке, например: /describe photo.jpg",
    }
)

EN: dict[str, str] = {
    "start": (
        "Hi, {name}! I'm Molbert 🎨 — I paint pictures from a description and recognise what is in photos.\n\n"
        "• /imagine <description> — I'll paint it, e.g.: /imagine a cat in space\n"
        "• send a photo — I'll tell you what is in it\n"
        "• a photo captioned «cat, dog, bear» — I'll pick among your options\n\n"
        "More: /help"
    ),
    "help": (
        "How to use Molbert:\n\n"
        "🎨 Painting\n"
        "/imagine <description> (/draw) — a picture from a description in Russian or English.\n"
        "Examples:\n"
        "  /imagine a cat in space\n"
        "  /imagine watercolor landscape with birches at sunset --ar 16:9 --n 4\n\n"
        "Options after the description:\n"
        "  --ar 16:9 — aspect ratio (1:4 to 4:1)\n"
        "  --n 4 — how many pictures (1–4; without it, the model's usual number or the chat's /settings)\n"
        "  --style anime — style: photo, anime, watercolor, oil, cyberpunk, pixel-art, 3d; none — no style\n"
        "  --no people — what should not be there\n"
        "  --seed 42 — repeat a picture; --steps 30 — steps; --best 8 — keep the best of 8\n"
        "  --up 4 — enlarge the finished picture 2 or 4 times right away\n"
        "  --enhance — ✨ first write a richer description (light, setting, style), then paint it\n"
        "  --model — another model, if the bot offers several (an unknown name lists them)\n\n"
        "🔘 Buttons under a picture\n"
        "U — the image alone, V — a strong variation, ~ — a subtle one (close to it), 🔄 — again, 🖋 — change it, "
        "✨ — paint again from a richer description.\n"
        "Under a single picture: ⤴ ×2 and ⤴ ×4 — enlarge; 🔍 ×1.5 and 🔍 ×2 — zoom out (the border is painted in); "
        "⬅️ ➡️ ⬆️ ⬇️ — extend it that way.\n"
        "👍 / 👎 — rate the result (a photo answer too).\n"
        "To change a picture, reply to it: “without the hat”, “add a moon”, “make it winter”, "
        "“make it watercolor”, --ar 9:16 or a new description (the seed stays the same).\n\n"
        "📷 Painting from a photo\n"
        "A photo captioned /imagine <description> [--options], or /imagine <description> as a reply to a photo — "
        "I'll paint starting from that photo, in its proportions (--ar changes them), e.g.:\n"
        "  /imagine the same, but in winter --strength 0.4\n"
        "  --strength 0.4 — how far to move from the photo: 0.05 (almost the photo) to 1; 0.6 by default.\n\n"
        "🔎 Photos\n"
        "Send a photo and I'll name what is in it, with percentages.\n"
        "Caption the photo with options separated by commas, semicolons or new lines and I'll pick "
        "among them: «cat, dog, bear». One option — I'll answer yes or no.\n"
        "/classify cat, dog — as a reply to any photo in the chat.\n"
        "/describe as a reply to a photo or as its caption — I'll describe it in Russian words and suggest ready "
        "/imagine prompts; the 🎨 button under the answer paints the line with its number.\n"
        "An album captioned «the funniest meme» — I'll rank its photos.\n"
        "/labels — labels for photos in this chat (set by admins).\n"
        "/teach Murka — an album of 1–10 photos with this caption teaches me a new class (admins); "
        "/classes — the list, /forget_class Murka — forget it.\n\n"
        "⚙️ More\n"
        "/settings — chat settings for admins: default style and aspect ratio, 18+ filter, "
        "recognising every photo, who may press the buttons, language, ✨ and collecting ratings.\n"
        "/queue — your jobs in the queue, /cancel — cancel them.\n"
        "/forget — delete your 👍/👎 ratings and button presses that I keep.\n\n"
        "Jobs run in turn; I tell you your place in the queue right away and reply with the result."
    ),
    "imagine_empty": "Tell me what to paint after the command, for example:\n/imagine a cat in space",
    "prompt_too_long": "The description is too long: {length} characters, the limit is {limit}. Please shorten it.",
    "queued": "⏳ Your job is queued, position: {position}. I'll send the result as soon as it is ready.",
    "queued_next": "⏳ Job accepted, you are first in the queue. I'll send the result as soon as it is ready.",
    "queue_unavailable": "😔 The job queue is unavailable right now. Please try again in a minute.",
    "image_caption": "🎨 {prompt}\n\nseed {seed} · {model} · {seconds} s\n{command}",
    "variation_source_gone": "The image to vary was deleted (they are kept for a day). Press 🔄 or send /imagine.",
    "variations_unsupported": "This model cannot make variations. Press 🔄 to paint again.",
    "out_of_memory": "😔 There was not enough memory for this picture. Ask for fewer images (--n) "
    "or another shape (--ar), without --best.",
    "photo_gone": "The photo waited too long and was deleted. Please send it again.",
    "imagine_photo_gone": "The photo this picture started from was deleted (it is kept for a day, like the pictures). "
    "Send the photo captioned /imagine <description> again.",
    "imagine_photo_unsupported": "This model paints from a description only, not from a photo. Send /imagine without "
    "a photo.",
    "imagine_photo_impossible": "No model here paints from a photo: «{model}» paints from a description only. "
    "Send /imagine without a photo.",
    "imagine_from_photo": "📷 From a photo, strength {strength} (lower = closer to the photo); 🔄 paints from the same "
    "photo.",
    "imagine_rerouted": "The model «{asked}» does not paint from photos, so «{used}» painted this.",
    "option_strength": "--strength: «{value}» won't do, it takes a number from 0.05 to 1 (lower = closer to the "
    "photo), e.g. --strength 0.4.",
    "option_strength_needs_photo": "--strength is only for painting from a photo: send a photo captioned "
    "/imagine <description> --strength 0.4.",
    "classify_header": "🔎 What I see in the photo:",
    "classify_header_labels": "🔎 Of your options, the best match is:",
    "classify_uncertain": "🤔 I'm not sure what this is. The closest options:",
    "classify_yes": "✅ Yes, it looks like «{label}» ({percent}).",
    "classify_no": "❌ Probably not: it doesn't look much like «{label}». More like «{best}» ({percent}).",
    "classify_reply_to_photo": "Send /classify as a reply to a photo, optionally with options: /classify cat, dog",
    "rank_header": "🏆 «{query}»: the best match is photo {number}.",
    "rank_photo": "photo {number}",
    "rank_no_query": "Write in the album's caption what to look for, e.g.: the funniest meme",
    "rank_photo_count": "I can compare from 2 to {limit} photos in one album.",
    "labels_too_many": "Too many options: {count}, the limit is {limit}.",
    "label_too_long": "The option «{label}…» is too long: at most {limit} characters.",
    "download_failed": "I couldn't download the file: it may have been deleted. Please send it again.",
    "image_unreadable": "I couldn't open the picture: the file is damaged or not an image. Please send a JPEG, PNG, WebP or HEIC photo.",
    "image_unsupported": "I can't read {format} files. Please send a JPEG, PNG, WebP or HEIC photo.",
    "image_too_many_pixels": "The picture is too large: the limit is {limit} megapixels. Please make it smaller.",
    "file_too_big": "The file is too large ({size_mb} MB): Telegram bots can download at most {limit_mb} MB.",
    "document_not_image": "This does not look like a picture ({mime}). I only recognise images: JPEG, PNG or WebP.",
    "job_failed": "😔 The job failed. Please try again a bit later. Error reference: {ref}",
    "unknown_command": "I don't know that command. The list of commands: /help",
    "unsupported_message": "I can't read that. I paint from a description — /imagine a cat in space — and tell what is in a photo: send one. Help: /help",
    "text_hint": "To paint a picture, start with /imagine, e.g.: /imagine a cat in space. Help: /help",
    "option_unknown": "I don't know the option {option}. Available: {options}. More: /help",
    "option_needs_value": "{option} needs a value, e.g.: {example}",
    "option_twice": "The option {option} is given twice. Keep one value.",
    "option_ar": "The aspect ratio «{value}» won't do: use --ar W:H, e.g. 1:1, 3:2, 16:9 or 9:16 (from 1:4 to 4:1).",
    "option_range": "{option}: «{value}» won't do, it takes a whole number from {low} to {high}.",
    "option_style": "There is no style «{value}». Styles: {styles_en}.",
    "option_model": "There is no model «{value}» here. Models: {models}.",
    "option_model_single": "This bot has one model; --model is not needed.",
    "option_too_long": "{option} is too long: at most {limit} characters.",
    "option_best_below_n": "--best {best} is less than --n {count}: pick from at least as many as you want to see.",
    "button_stale": "This button has expired: the result is gone. Please send /imagine again.",
    "remix_empty": (
        "Tell me what to change, for example: “without the hat”, “add a moon”, “make it winter”, "
        "“make it watercolor” or --ar 9:16."
    ),
    "remix_stale": "This request is forgotten (they are kept for 30 days). Please send /imagine again.",
    "remix_prompt": (
        "🖋 Reply to this message with what to change: “without the hat”, “add a moon”, “make it winter”, "
        "“make it watercolor”, --ar 9:16 or a new description. Now:\n{command}"
    ),
    "remix_prompt_sent": "Reply with what to change",
    "labels_current": "Labels for photos in this chat: {labels}.\nChange (admins): /labels cat, dog · reset: /labels -",
    "labels_default": "Photos in this chat are recognised with the default labels. Admins can set their own: /labels cat, dog",
    "labels_set": "Done: photos in this chat are now recognised among {count} labels: {labels}.",
    "labels_reset": "Done: back to the default labels.",
    "labels_admins_only": "Only this chat's administrators can change its labels.",
    "labels_need_two": "At least two labels separated by commas, e.g.: /labels cat, dog",
    "access_denied": "Sorry, I don't work here. If this is a mistake, please contact the bot's operator.",
    "operators_only": "This command is for the bot's operators only.",
    "stats": "📊 Jobs today: {jobs_today}\nWaiting: pictures {waiting_pictures}, photos {waiting_photos}\nRunning: {running}\nWorkers online: {workers}\nTypical time: picture {picture_seconds} s, photo {photo_seconds} s",
    "queue_empty": "You have no jobs in the queue in this chat.",
    "queue_header": "Your jobs:",
    "queue_picture": "🎨 «{prompt}»",
    "queue_photo": "🔎 photo",
    "queue_running": "{number}. {what} — running",
    "queue_waiting": "{number}. {what} — place in the queue: {position}.",
    "cancel_done": "✖ Jobs cancelled: {count}.",
    "cancelled": "✖ Job cancelled.",
    "button_cancel": "✖ Cancel",
    "cancel_pressed": "Cancelling the job.",
    "cancel_not_yours": "Only the one who sent this job can cancel it.",
    "cancel_too_late": "This job has finished already: nothing to cancel.",
    "limit_concurrent": "Jobs in progress: {count}, as many as you may have. Wait for a result, then send the next one.",
    "limit_rate": "Too often: the limit is {limit} a minute. Please try again in {seconds} s.",
    "limit_daily": "You have used today's limit ({limit} a day). It renews in about {hours} h.",
    "limit_chat": "There are too many jobs from this chat right now. Please try again in {seconds} s.",
    "queue_full": "The queue is full right now (jobs waiting: {length}). Please try again in a few minutes.",
    "prompt_blocked": "Sorry, I won't paint that. Please try another description.",
    "images_hidden": "⚠️ Hidden by the filter: {count} of {total}.",
    "negative_ignored": (
        "ℹ️ --no was not used: this model paints without negative prompts. "
        "Describe what should be in the picture instead."
    ),
    "button_not_yours": "These buttons are for the one who asked. To paint your own, send /imagine.",
    "button_image_gone": "This image was deleted (they are kept for a day). Press 🔄 to paint it again.",
    "button_accepted": "Got it! Queueing.",
    "button_sending": "Sending the full-size image.",
    "button_repeated": "On it already — one press is enough.",
    "upscale_caption": "🖼 Image {number}: {prompt}",
    "progress": "⏳ Painting… {percent}%",
    "time_left": ", ≈ {seconds} s left",
    "wait_estimate": " Wait ≈ {seconds} s.",
    "cmd_start": "Start",
    "cmd_help": "Help and examples",
    "cmd_imagine": "Paint a picture from a description",
    "cmd_classify": "Recognise a photo (as a reply to it)",
    "cmd_queue": "My jobs in the queue",
    "cmd_labels": "Labels for photos in this chat",
    "cmd_cancel": "Cancel my jobs",
    "cmd_settings": "Chat settings (for admins)",
    "settings_title": "⚙️ Settings of this chat",
    "settings_choose": "What to change?",
    "settings_field_menu": "{field} — now: {value}. Choose:",
    "settings_back": "← Back",
    "settings_saved": "Saved ✓",
    "settings_admins_only": "Only this chat's administrators can change its settings.",
    "settings_stale": "This button has expired. Open the menu again: /settings",
    "settings_style": "Default style",
    "settings_aspect": "Default aspect ratio",
    "settings_images": "Pictures per request",
    "settings_nsfw": "18+ filter",
    "settings_classify": "Recognise every photo",
    "settings_buttons": "Buttons under pictures",
    "settings_lang": "Language",
    "settings_button_style": "🎨 Style",
    "settings_button_aspect": "📐 Aspect",
    "settings_button_images": "🖼 How many",
    "settings_button_nsfw": "🔞 Filter",
    "settings_button_classify": "🔎 Photos",
    "settings_button_buttons": "🔘 Buttons",
    "settings_button_lang": "🌐 Language",
    "settings_style_unset": "as in the prompt",
    "settings_aspect_unset": "as in the prompt",
    "settings_images_unset": "the model's default",
    "settings_nsfw_strict": "strict",
    "settings_nsfw_normal": "normal",
    "settings_nsfw_relaxed": "relaxed",
    "settings_classify_on": "yes, all",
    "settings_classify_off": "only those addressed to the bot",
    "settings_buttons_requester": "the requester only",
    "settings_buttons_admins": "the requester and admins",
    "settings_buttons_all": "everyone",
    "settings_lang_unset": "each user's own",
    "settings_lang_ru": "русский",
    "settings_lang_en": "English",
    "button_not_yours_admins": "These buttons are for the one who asked and the chat's admins. To paint your own, send /imagine.",
    "discord_help": (
        "How to use Molbert:\n\n"
        "🎨 /imagine prompt: <description> — a picture from a description in Russian or English, e.g.: "
        "/imagine prompt: a cat in space\n"
        "Fields: aspect, style, negative (what not to paint), seed, count (how many), enhance (✨ first write a "
        "richer description), image (I'll paint starting from that photo).\n"
        "The prompt takes --options too: --ar 16:9, --n 4, --style anime, --no people, --seed 42, --steps 30, "
        "--best 8, --up 2 or 4 (enlarge), --enhance, --model, --strength 0.4 (with image: how far to move from the "
        "photo, 0.05–1).\n\n"
        "🔘 Under a picture: U — full size, V — a strong variation, ~ — a subtle one, 🔄 — again, 🖋 — change it "
        "(in a form; “without the hat” works too), ✨ — from a richer description. Under a single picture: ⤴ ×2 and "
        "⤴ ×4 — enlarge, 🔍 ×1.5 and 🔍 ×2 — zoom out, ⬅️ ➡️ ⬆️ ⬇️ — extend. 👍 / 👎 — rate it.\n\n"
        "🔎 /classify image: <picture> [labels: cat, dog] — what is in it (or which of your options).\n"
        "/describe image: <picture> — I'll describe it in Russian words and suggest ready /imagine prompts (🎨 "
        "paints one).\n"
        "/rank query: the funniest meme image1: … image10: — I'll pick the best of 2–10 pictures.\n"
        "On a message with pictures (right-click, long-press on a phone) → Apps: «Classify», «Describe», "
        "«Paint from this picture», «Rank by a query».\n\n"
        "/teach name:Murka image1:… — teach me a new class from 1–10 pictures; /classes — the list, "
        "/forget_class — forget one.\n"
        "/labels — labels for photos, /settings — this channel's settings (changed by those who can manage the "
        "server).\n"
        "/queue — your jobs, /cancel — cancel them (or ✖ under the queue message).\n"
        "/forget — delete your 👍/👎 ratings and button presses that I keep.\n\n"
        "Jobs run in turn; I tell you your place in the queue right away and post the result right here."
    ),
    "console_help": (
        "Molbert in a terminal: the same bot as in Telegram, with pictures saved as files.\n\n"
        "/imagine <description> [--options] (/draw) — a picture, e.g.: /imagine a cat in space --n 4\n"
        "  options: --ar 16:9, --n 4, --style anime, --no people, --seed 42, --steps 30, --best 8, --model, "
        "--up 2 or 4 (enlarge right away)\n"
        "  --enhance — ✨ first write a richer description\n"
        "/imagine <description> --from photo.jpg [--strength 0.4] — a picture that starts from that photo\n"
        "/press U1 — a button under the last picture: U — the picture alone, V — a strong variation, "
        "~ — a subtle one (/press ~1), 🔄 — again, 🖋 — change it, ✨ — from a richer description; under a single "
        "picture ⤴ ×2 and ⤴ ×4 — enlarge, 🔍 ×1.5 and 🔍 ×2 — zoom out, ⬅️ ➡️ ⬆️ ⬇️ — extend (/press 🔍 ×2, "
        "/press ⬅️); 👍 / 👎 — rate it\n"
        "/remix [number] <what to change> — change picture [number] (without one: the last): "
        "/remix without the hat, /remix add a moon --ar 9:16\n"
        "/classify <file> [cat, dog] — what is in a picture (or which of your labels); "
        "a path alone works too. Quote a path with spaces\n"
        "/describe <file> — describe a picture in words and suggest ready /imagine prompts (/press 1 paints the first)\n"
        "/labels [cat, dog | -] — the default labels for pictures\n"
        "/teach Murka a.jpg b.jpg — teach a new class (1–10 photos); /classes — the list; /forget_class Murka\n"
        "/queue — your jobs, /cancel — cancel them\n"
        "/forget — delete your ratings and presses\n"
        "Quit with Ctrl-D (waits for the results) or Ctrl-C."
    ),
    "console_no_file": "There is no file «{path}». Give the path to a picture, e.g.: /classify photo.jpg cat, dog",
    "console_no_button": "There is no button «{label}». There are: {buttons}",
    "console_no_picture": "There is no picture [{number}]. These can be changed: {pictures}",
    "console_remix": "🖋 Now: {command}\nTo change it: /remix {number} <without the hat, add a moon, --ar 9:16…>",
    "discord_remix_modal_title": "Change the picture",
    "discord_remix_modal_description": "Description, or “without the hat”",
    "discord_remix_modal_options": "Options (the seed stays unless changed)",
    "discord_imagine_empty": "Write what to paint in the prompt field, e.g.: a cat in space (options go after it).",
    "discord_labels_current": (
        "Labels for photos in this channel: {labels}.\n"
        "Change (members who can manage the server): /labels labels: cat, dog · reset: /labels labels: -"
    ),
    "discord_labels_default": (
        "Photos in this channel are recognised with the default labels. "
        "Members who can manage the server can set their own: /labels labels: cat, dog"
    ),
    "discord_labels_admins_only": "Only members who can manage the server can change this channel's labels.",
    "discord_labels_need_two": "At least two labels separated by commas, e.g.: /labels labels: cat, dog",
    "discord_settings_admins_only": "Only members who can manage the server can change this channel's settings.",
    "discord_cmd_classify": "Recognise what is in a picture",
    "discord_opt_prompt": "What to paint, e.g.: a cat in space",
    "discord_opt_aspect": "Aspect ratio: width to height",
    "discord_opt_style": "Style: photo, anime, watercolor…",
    "discord_opt_negative": "What must not be in the picture",
    "discord_opt_seed": "Seed: the same seed and description give the same picture",
    "discord_opt_count": "How many pictures to paint (1–4)",
    "discord_opt_image": "A picture: JPEG, PNG or WebP",
    "discord_opt_labels": "Your own options, comma-separated: cat, dog, bear",
    "discord_opt_chat_labels": "Labels, comma-separated: cat, dog; «-» for the default set (admins)",
    "cmd_stats": "Bot statistics (for operators)",
    "discord_ctx_classify": "Classify",
    "discord_no_images": "This message has no pictures. Pick a message with a photo (JPEG, PNG or WebP).",
    "discord_file_too_big": "The file is too large ({size_mb} MB): I recognise pictures of at most {limit_mb} MB.",
    "discord_error": "😔 Something went wrong. Please try again a bit later.",
    "discord_negative_ignored": (
        "ℹ️ The negative field (--no) was not used: this model paints without negative prompts. "
        "Describe what should be in the picture instead."
    ),
    "discord_cmd_rank": "Pick the best of 2–10 pictures for a query",
    "discord_opt_query": "What to look for among the pictures, e.g.: the funniest meme",
    "discord_opt_rank_image": "A picture to compare: JPEG, PNG or WebP",
    "discord_ctx_rank": "Rank by a query",
    "discord_rank_modal_title": "Pick the best picture",
    "discord_rank_modal_label": "What to look for among the pictures?",
    "discord_rank_modal_placeholder": "e.g.: the funniest meme",
    "discord_opt_imagine_image": "A photo to start the picture from (JPEG, PNG or WebP)",
    "discord_ctx_imagine": "Paint from this picture",
    "discord_imagine_modal_title": "Paint from this picture",
    "discord_imagine_modal_label": "What to paint from this picture?",
    "discord_imagine_modal_placeholder": "e.g.: the same, but in winter --strength 0.5",
    "discord_rank_header": "🏆 «{query}»: the best match is picture {number} of {count}.",
    "discord_rank_photo": "picture {number}",
    "discord_rank_no_query": "Write what to look for among the pictures, e.g.: the funniest meme",
    "discord_rank_photo_count": (
        "I can compare from 2 to {limit} pictures: attach them to /rank (image1, image2…) "
        "or pick a message that has several."
    ),
    # --- the learned re-ranker in /stats (issue #22) ---
    "stats_ranker_live": "🎯 Ranking: {name}, trained on {preferences} choices — nDCG@1 {ndcg1} vs cosine's {cosine1}",
    "stats_ranker_cosine": "🎯 Ranking: CLIP cosine",
    "stats_ranker_weak": "🎯 Ranking: CLIP cosine ({name} does not beat it by the margin: nDCG@1 {ndcg1} vs {cosine1})",
    "stats_ranker_other_clip": "🎯 Ranking: CLIP cosine ({name} was trained for another model: {clip_model})",
    "stats_ranker_broken": "🎯 Ranking: CLIP cosine (the newest trained one cannot be read, see the worker's log)",
    # Few-shot chat classes (/teach, /classes, /forget_class): handlers/teach.py
    "teach_done": "🎓 Learnt: {name} ({count} photos). I will now recognise it in this chat's photos; see /classes.",
    "teach_replaced": "🎓 Retaught: {name} ({count} photos) — the old class of that name was replaced by these photos.",
    "teach_no_name": "Write the name after the command, e.g. /teach Murka, and attach 1–10 photos.",
    "teach_name_too_long": "The name is too long: {length} characters, at most {limit} allowed.",
    "teach_no_photo": (
        "Photos are needed: send 1–10 photos as an album captioned /teach <name>, or reply /teach <name> to a photo."
    ),
    "discord_teach_no_photo": "Attach 1–10 pictures to the command: /teach name:Murka image1:…",
    "console_teach_no_photo": "Give the photos after the name: /teach Murka a.jpg b.jpg (1–10 files).",
    "teach_too_many_photos": "Too many photos: {count}, at most {limit} at a time.",
    "teach_too_many_classes": (
        "This chat has {limit} classes already, the most it can have. Remove one: /forget_class <name> "
        "(list: /classes)."
    ),
    "teach_admins_only": "Only this group's administrators can teach or forget classes.",
    "discord_teach_admins_only": "Only members who can manage the server can teach or forget classes here.",
    "classes_none": "This chat has no classes of its own yet. Teach me: an album of 1–10 photos captioned /teach Murka.",
    "discord_classes_none": "No classes of its own here yet. Teach me: /teach name:Murka image1:… (1–10 pictures).",
    "console_classes_none": "No classes of your own yet. Teach me: /teach Murka a.jpg b.jpg (1–10 photos).",
    "classes_header": "🎓 This chat's classes ({count} of {limit}), recognised in photos along with the labels:",
    "classes_line": "• {name} — {count} photos",
    "forget_class_done": "Forgot the class “{name}”.",
    "forget_class_unknown": "There is no class “{name}” here. See /classes.",
    "cmd_teach": "Teach a new class from 1–10 photos",
    "cmd_classes": "Classes taught in this chat",
    "cmd_forget_class": "Forget a class",
    "discord_cmd_teach": "Teach a new class from 1–10 pictures",
    "discord_opt_class_name": "The class's name, e.g. Murka",
    "discord_opt_teach_image": "A picture of the class: JPEG, PNG or WebP",
    "discord_cmd_classes": "Classes taught in this channel",
    "discord_cmd_forget_class": "Forget a taught class",
    # zoom out and pan (🔍 ×1.5, 🔍 ×2, ⬅️ ➡️ ⬆️ ⬇️ under a single picture; handlers/zoom.py)
    "outpaint_unsupported": "This model cannot zoom out or pan pictures (🔍 and the arrows). Press 🔄 to paint again.",
    "outpaint_source_gone": "The picture to zoom out was deleted (they are kept for a day). Press 🔄 or send /imagine.",
    "outpaint_done_o15": "🔍 Zoomed out ×1.5: the border is painted in.",
    "outpaint_done_o2": "🔍 Zoomed out ×2: the border is painted in.",
    "outpaint_done_l": "⬅️ Extended to the left.",
    "outpaint_done_r": "➡️ Extended to the right.",
    "outpaint_done_u": "⬆️ Extended upwards.",
    "outpaint_done_d": "⬇️ Extended downwards.",
    # --- feedback: 👍/👎, /forget (issue #22) ---
    "feedback_up": "Thanks! 👍 noted (changed your mind? press 👎).",
    "feedback_down": "Thanks! 👎 noted — I will try harder (changed your mind? press 👍).",
    "feedback_off": "Feedback is not collected in this chat (admins turn it on in /settings).",
    "forget_done": "Done: everything I kept of your ratings and presses here ({where}) is deleted — records: {count}.",
    "forget_failed": "I could not delete your records just now: the database is away. Please try again a little later.",
    "cmd_forget": "Delete my ratings and presses",
    "settings_feedback": "Collect ratings (👍/👎, U/V/🔄)",
    "settings_button_feedback": "👍 Ratings",
    "settings_feedback_on": "collect",
    "settings_feedback_off": "do not collect",
    # --- upscale (⤴ ×2 / ×4, --up; #20) ---
    "upscaled_caption": "⤴ ×{factor} ({model}, {seconds} s): {prompt}",
    "upscaled_note": "⤴ Enlarged ×{factor} ({model}).",
    "upscaled_document_jpeg": "A PNG would be over {limit} MB, so the file is a top-quality JPEG.",
    "progress_upscaling": "⏳ Enlarging ×{factor}… {percent}%",
    "progress_upscaling_cpu": "\nThis server has no GPU: enlarging takes a few minutes. ✖ cancels it.",
    "option_up": "--up: «{value}» won't do; pictures can be enlarged 2 or 4 times: --up 2 or --up 4",
    "upscale_again": "This picture is enlarged already: it can't be enlarged again.",
    "upscale_unavailable": "Enlarging is not available on this server right now. Painting works as usual.",
    "upscale_too_big": "The picture is too big to enlarge again. Try ×2.",
    "upscale_source_gone": "The picture to enlarge was deleted (they are kept for a day). Press 🔄 to paint it again.",
    # ✨ prompt enhancement (--enhance, the ✨ button, /settings "enhance")
    "option_flag_value": "{option} takes no value; write the description before it, e.g.: {example}",
    "settings_enhance": "✨ Richer descriptions",
    "settings_button_enhance": "✨ Descriptions",
    "settings_enhance_off": "by --enhance and ✨",
    "settings_enhance_ask": "offer ✨",
    "settings_enhance_always": "always",
    "button_enhance": "✨",
    "enhance_hint": "✨ — write a richer description and paint again",
    "enhanced_from": "✨ Description enhanced from «{prompt}»",
    "enhance_fallback": "✨ Could not enhance the description ({why}): painted from your words.",
    "enhance_why_failed": "the model failed",
    "enhance_why_timeout": "the model ran out of time",
    "enhance_why_unusable": "the model's answer was unusable",
    "enhance_why_blocked": "the answer had a blocked word",
    "enhance_why_off": "enhancement is not set up",
    "enhanced_full": "✨ The whole enhanced description:\n{command}",
    "discord_opt_enhance": "✨ First write a richer description, then paint it",
}

# --- /describe (#21) ---
EN.update(
    {
        "describe_no_photo": (
            "Send /describe as a reply to a photo or as a photo's caption: I'll describe it in words (in Russian, "
            "as the painter reads best) and suggest ready /imagine prompts."
        ),
        "describe_answer": "📝 It looks like: {subject}{traits}.\n\nReady prompts (🎨 paints one):\n{lines}",
        "describe_traits": " — {traits}",
        "describe_line": "{number}. {command}",
        "describe_command": "/imagine {prompt}",
        "discord_describe_command": "/imagine prompt: {prompt}",
        "describe_button": "🎨 {number}",
        "cmd_describe": "Describe a photo in words (as a reply to it)",
        "discord_cmd_describe": "Describe a picture in words and suggest /imagine prompts",
        "discord_opt_describe_image": "The picture to describe: JPEG, PNG or WebP",
        "discord_ctx_describe": "Describe",
        "console_no_describe_file": "There is no file «{path}». Give the path to a picture, e.g.: /describe photo.jpg",
    }
)

# Taught classes in the database (#22): the database being away, and classes kept in the old format
RU.update(
    {
        "classes_unavailable": (
            "Сейчас не получается прочитать или сохранить классы этого чата: база недоступна. Попробуйте чуть позже."
        ),
        "teach_not_saved": "Не смог запомнить «{name}»: база недоступна. Пришлите фото с /teach ещё раз чуть позже.",
        "classes_line_old": "• {name} — {count} фото (старый формат: узнаю только по названию; научите заново)",
    }
)
EN.update(
    {
        "classes_unavailable": (
            "I cannot read or save this chat's classes just now: the database is away. Please try again a little later."
        ),
        "teach_not_saved": "I could not keep “{name}”: the database is away. Send the photos with /teach again later.",
        "classes_line_old": "• {name} — {count} photos (old format: recognised by its name only; please teach it again)",
    }
)

LANGUAGES: dict[str, dict[str, str]] = {"ru": RU, "en": EN}
DEFAULT_LANGUAGE = "ru"


def pick_language(language_code: str | None) -> str:
    """Map a platform's language code (``"en-US"``, ``"ru"``, ``None``) to one we have texts for.

    Russian is the default; English speakers get English.
    """
    if language_code and language_code.lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def t(key: str, lang: str = DEFAULT_LANGUAGE, *, platform: str | None = None, **values: object) -> str:
    """Return the text ``key`` in ``lang`` (falling back to Russian, then English), formatted with ``values``.

    With ``platform``, a text of that platform's own (``discord_<key>``: Discord's commands take fields, and its
    admins are those who may manage the server) is preferred where there is one.
    """
    texts = LANGUAGES.get(lang, RU)
    template = (platform and texts.get(f"{platform}_{key}")) or texts.get(key) or RU.get(key) or EN[key]
    return template.format(**values) if values else template
